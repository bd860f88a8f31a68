"""The soil-core CT workspace (Wieland et al. 2021)."""
