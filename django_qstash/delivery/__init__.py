"""Getting claimed work sent: transports, worker, sender, recorder, per-process fairness."""
