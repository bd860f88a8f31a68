"""Qt views shared by the imaging workspaces (sem, soil, nodules): the large 2-D image view, the
linked slice views and the VTK 3-D view, and reusable pyqtgraph items (boxes, class legend,
scale bar)."""
