"""What a sweep found, read back from MLflow: the leaderboard (:mod:`.leaderboard`) and a trial exported as an
experiment file (:mod:`.export`)."""
