"""Where the native model is made and judged (command-line tools): the synthetic world
(``world``), what its frames show (``analysis``), where it runs (``device``), training
(``train``), the autoencoder's training (``train_autoencoder``), distillation (``distill``),
the decoder's tuning (``tune_decoder``) and the evaluator (``evaluate``)."""
