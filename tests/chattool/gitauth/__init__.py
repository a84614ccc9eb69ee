"""chattool.gitauth: the control plane's external-auth route, its refresher and in-memory stores."""
