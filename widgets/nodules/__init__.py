"""The nodules workspace (lung-nodule SSD on chest CT, review, FROC)."""
