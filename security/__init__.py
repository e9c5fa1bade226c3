"""Identity and security core: who is calling, what they may do, and the evidence of it."""
