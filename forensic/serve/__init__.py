"""``forensic serve``: the review workspace in the browser, on the examiner's own machine
(:mod:`forensic.serve.app`; the command is :mod:`forensic.cli.commands.serve`)."""
