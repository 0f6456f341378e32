"""The command line: click commands that parse and report; the work is done in reconciler.app."""
