"""Every output of every report: the plan, the drift report, the apply report and the journal's views, in each of
their formats (:mod:`reconciler.render.formats` is the table of them), with the words and escaping they share."""
