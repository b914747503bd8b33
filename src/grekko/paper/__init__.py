"""Paper trading session: real data replayed through the kernel, paced, checkpointed, watched."""
