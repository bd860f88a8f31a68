"""Steel micrographs (SEM): tiled FCN segmentation, stitched, max-vote class per object
(Azimi et al., "Advanced steel microstructural classification by deep learning methods")."""
