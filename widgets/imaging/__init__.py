"""Qt views shared by the imaging workspaces (sem, soil, nodules): the large 2-D image view and
reusable pyqtgraph items (boxes, class legend, scale bar)."""
