"""neuroprove: a neuro-symbolic theorem prover."""
__version__ = "0.1.0"
