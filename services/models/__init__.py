"""The on-disk model registry shared by the retrainer (which writes it) and the predictor (which
loads every tenant's champion from it when it starts)."""
