"""The candidate features, by name and in order: the contract between the cache, which computes
them (``candidates.py``), the trainer, which fits models on them, and the predictor, which refuses
a model whose card names others. Kept apart so that the predictor need not import the engine."""

FEATURES = (
    "successor_probability",  # count / total of the trigger's row (0 for a delta candidate)
    "successor_count",  # decayed count of this candidate after the trigger
    "trigger_observations",  # decayed total of the trigger's row
    "successor_rank",  # 0 for the strongest candidate of the row, 1 for the next, ...
    "from_delta",  # 1 when proposed by the key-delta rule
    "delta_probability",  # share of recent requests separated by the candidate's delta
    "candidate_recency",  # log1p(requests since the candidate was last requested); 20 if never
    "candidate_frequency",  # log1p(the candidate's requests, decayed with a FREQUENCY_HALF_LIFE)
    "trigger_recency",  # log1p(requests since the trigger's previous request); 20 if never
    # log1p(requests from the trigger's previous request to the candidate's last one): small when the
    # candidate followed the trigger last time, however long ago that was; 20 if it did not.
    "after_trigger_last_time",
    "from_coaccess",  # 1 when proposed by the co-access table (the first four columns are then its row's)
)
