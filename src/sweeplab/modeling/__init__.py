"""What is trained: the model factory registry (:mod:`.registry`) and the built-in factories (:mod:`.factories`),
the baseline (:mod:`.baseline`), text to model input (:mod:`.vectorize`), the scikit-learn wrapper of a Keras model
(:mod:`.classifier`), the tuned Pipeline (:mod:`.pipeline`), how predictions are scored (:mod:`.metrics`) and the
one-file raw-text Keras model (:mod:`.textmodel`)."""
