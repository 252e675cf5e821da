"""Training: the ``TrainConfig`` recipe, augmentation, the Keras engine, the PyTorch engine,
transfer learning from pretrained VGG16 conv weights, the fits made on the validation split after
training, and ensembles of trained models. Turns an ISIC download into a ``SkinModel`` with a
complete card.
"""
