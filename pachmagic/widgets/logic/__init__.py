"""Pure functions behind the panels: no widgets, no kernel, no RPCs.

``style`` (colours and small HTML pieces), ``dag`` (pipeline graph, layered
layout, SVG), ``browse`` (previews, paging, file history) and ``jobs``
(progress bars, durations, failed datums). Everything here takes records and
plain values and returns values or HTML text, so it is tested without a kernel.
"""
