"""The learned SOC estimator (``estimator: {type: learned}``): a small GRU on the site's history.

:mod:`~ems.estimation.learned.gru` is the model (numpy; autograd only to train it),
:mod:`~ems.estimation.learned.history` the minute recorder it learns from,
:mod:`~ems.estimation.learned.anchors` the reference SOC points and the labels
between them, :mod:`~ems.estimation.learned.dataset` the windows,
:mod:`~ems.estimation.learned.train` the training and its validation against the EKF
(imports autograd), :mod:`~ems.estimation.learned.model_file` the model in the
state directory, and :mod:`~ems.estimation.learned.estimator` what the cycle runs.
"""
