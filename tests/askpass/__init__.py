"""Chat-scoped git credentials: the askpass program, its client, and the control plane."""
