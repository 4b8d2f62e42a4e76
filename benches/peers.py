"""Moved to :mod:`privmask.bench` (so an installed privmask can run ``privmask bench``); this
re-export keeps ``from benches.peers import ...`` working for the benchmark modules here."""

from privmask.bench import (
    COVERAGES,
    PEER_FORMAT,
    RESOLUTIONS,
    STYLES,
    Case,
    InpaintPeer,
    NumpyPeer,
    OpenCVPeer,
    Peer,
    PrivmaskPeer,
    cases,
    chroma_cover,
    make_frame,
    peers_for,
    zone_polygons,
)

FORMAT = PEER_FORMAT

__all__ = [
    "COVERAGES",
    "FORMAT",
    "PEER_FORMAT",
    "RESOLUTIONS",
    "STYLES",
    "Case",
    "InpaintPeer",
    "NumpyPeer",
    "OpenCVPeer",
    "Peer",
    "PrivmaskPeer",
    "cases",
    "chroma_cover",
    "make_frame",
    "peers_for",
    "zone_polygons",
]
