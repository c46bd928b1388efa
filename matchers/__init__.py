"""Audio fingerprinting: which catalog work is inside a clip, where, and under which pitch/tempo change.

Knows audio and arrays only (no sites, no cases). The chain, one module each:
``audio`` (decode) -> ``spectrum`` (log-frequency spectrogram) -> ``peaks`` ->
``hashes`` (pitch/tempo-invariant triplets) -> ``index`` (memory-mapped arrays)
-> ``match`` (votes, fitted transform, verification, calibrated score).
"""

__version__ = "1.0"
