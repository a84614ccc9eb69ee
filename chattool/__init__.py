"""chattool: LLM tools that run commands through an agentproc agent."""
