"""The audit log: every change a dashboard user, an API key or the command line makes to a store,
with who, when, what and from where.  ``log`` writes and reads it (the one writer); ``sources`` says
who a request or a command is."""
