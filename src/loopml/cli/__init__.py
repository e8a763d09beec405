"""The loopml command line."""
