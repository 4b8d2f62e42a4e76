"""Dynamic masking: detectors (motion, faces) that find regions in each frame, and the tracker
that keeps what they found masked across misses."""
