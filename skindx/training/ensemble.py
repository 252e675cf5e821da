"""Average several trained models into one flat Keras model with its own card.

Members' conv stacks are copied side by side behind one input; their last feature maps
(before the final max-pool, for finer saliency) are concatenated (``ensemble_maps``),
pooled, averaged into ``features`` and read by one dense layer whose kernel is the members'
kernels stacked and divided by their number. The logits are therefore exactly the mean of
the members' logits (for members of one input size), while Grad-CAM on ``ensemble_maps``
explains the ensemble as a whole and every member's conv layers stay reachable for
per-layer maps.

Temperature, out-of-domain reference, triage thresholds, the flip-TTA choice and the
age/sex/site context are fitted again on the validation split all members share (they must
agree on it: the split is part of every member's card).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from itertools import pairwise
from pathlib import Path

import numpy as np

from skindx.model.bundle import SkinModel, load_model
from skindx.model.card import ModelCard
from skindx.model.networks import (
    ENSEMBLE_MAPS_LAYER,
    FEATURES_LAYER,
    HEAD_FEATURES_LAYER,
    LOGITS_LAYER,
    build_model,
    import_keras,
    layer_probe,
    resize_layer,
    shades_of_gray_layer,
    with_half_kernels,
)

# Recipe entries that fix the validation split and the pixels a model sees (colour constancy
# may differ: the ensemble applies it inside its graph to the members that need it).
_SHARED_KEYS = ("val_fraction", "split_seed", "hair_removal")


def combine(
    models: Sequence,
    weights: Sequence[float] | None = None,
    colour_constancy: Sequence[bool] | None = None,
) -> object:
    """One functional model whose logits are the mean of ``models``' logits, or their
    weighted mean with ``weights`` (positive, normalised to sum to 1). A member flagged in
    ``colour_constancy`` (trained on colour-corrected images) sees the image through a
    Shades-of-Gray layer, so it can share the input with members that were not.

    Each model must be a chain from its square RGB input to ``features`` (as the builders in
    :mod:`skindx.model.networks` make them), or, after all such members, a model whose
    ``features`` pool several layers (VGG16's ``multiblock`` head). Members trained at
    different sizes each see the image at their own size: the ensemble takes the largest,
    resizes it down for the others inside the graph, and resamples the chain members' last
    feature maps onto the largest one's grid so that one map explains them together (their
    logits are the members' mean up to that resampling). Feeding a network another size than
    it was trained at costs far more (see the model card's 'What was tried'). The ensemble's
    ``features`` (what the out-of-domain check reads) are the chain members' alone; pooled
    members' features join them in ``head_features`` before ``logits``.
    """
    keras = import_keras()
    if len(models) < 2:
        raise ValueError(f"An ensemble needs at least 2 models. Received: {len(models)}")
    shares = member_shares(len(models), weights)
    shapes = {tuple(m.input_shape[1:]) for m in models}
    if any(shape[0] != shape[1] or shape[2:] != (3,) for shape in shapes):
        raise ValueError(f"Members must take square RGB images. Received: {sorted(shapes)}")
    pooled = [_pools_features(m) for m in models]
    if pooled[0] or any(a and not b for a, b in pairwise(pooled)):
        raise ValueError(
            "Members whose features pool several layers must come after the others, "
            "and the first member must end in one map's global average."
        )
    size = max(shape[0] for shape in shapes)
    inputs = keras.Input((size, size, 3), name="image")
    trunks, extra = [], []
    for k, model in enumerate(models, start=1):
        colour = bool(colour_constancy and colour_constancy[k - 1])
        prepared = partial(_prepared, k=k, own=model.input_shape[1], size=size, colour=colour)
        if pooled[k - 1]:
            extra.append(_copy_graph(model, inputs, f"m{k}_", prepared))
        else:
            trunks.append(_copy_trunk(model, prepared(inputs), f"m{k}_"))
    pool = trunks[0][1]
    if any(other != pool for _, other in trunks[1:]):
        raise ValueError("Members must end in the same pooling before their features.")
    grid = max(maps.shape[1] for maps, _ in trunks)
    maps = [
        m if m.shape[1] == grid else resize_layer()(grid, name=f"m{k}_maps_resize")(m)
        for k, (m, _) in enumerate(trunks, start=1)
    ]
    x = keras.layers.Concatenate(name=ENSEMBLE_MAPS_LAYER)(maps)
    if pool is not None:  # channel-wise, so pooling the concatenation = concatenating pools
        x = keras.layers.MaxPooling2D.from_config({**pool, "name": "ensemble_pool"})(x)
    x = keras.layers.GlobalAveragePooling2D(name=FEATURES_LAYER)(x)
    if extra:
        x = keras.layers.Concatenate(name=HEAD_FEATURES_LAYER)([x, *extra])
    dense = keras.layers.Dense(models[0].get_layer(LOGITS_LAYER).units, name=LOGITS_LAYER)
    logits = dense(x)
    kernels, biases = zip(*(m.get_layer(LOGITS_LAYER).get_weights() for m in models), strict=True)
    dense.set_weights(
        [
            np.concatenate([k * w for k, w in zip(kernels, shares, strict=True)]),
            np.sum([b * w for b, w in zip(biases, shares, strict=True)], axis=0),
        ]
    )
    outputs = keras.layers.Activation("softmax", name="predictions", dtype="float32")(logits)
    return keras.Model(inputs, outputs, name="ensemble")


def _prepared(x, k: int, own: int, size: int, colour: bool):
    """The ensemble's ``size`` image as member ``k`` was trained to see it: at its ``own``
    size, colour-corrected if it was trained so."""
    if own != size:
        x = resize_layer()(own, name=f"m{k}_input_resize")(x)
    if colour:
        x = shades_of_gray_layer()(name=f"m{k}_shades_of_gray")(x)
    return x


def _pools_features(model) -> bool:
    """Whether ``model``'s features pool several layers rather than one map's average."""
    keras = import_keras()
    return not isinstance(model.get_layer(FEATURES_LAYER), keras.layers.GlobalAveragePooling2D)


def _copy_graph(model, inputs, prefix: str, prepared):
    """``model``'s graph from its input to ``features``, copied onto the ensemble's
    ``inputs`` with its weights and every layer's name prefixed, the image ``prepared`` for it
    on the way into its first layer (a clone must start from an input); returns the copy's
    features."""
    keras = import_keras()

    def fresh(layer):
        return layer.__class__.from_config({**layer.get_config(), "name": prefix + layer.name})

    trunk = layer_probe(model, FEATURES_LAYER)
    first = prefix + trunk.layers[1].name

    def call(layer, x, *args, **kwargs):
        return layer(prepared(x) if layer.name == first else x, *args, **kwargs)

    copy = keras.models.clone_model(
        trunk, input_tensors=inputs, clone_function=fresh, call_function=call
    )
    for layer in trunk.layers[1:]:
        copy.get_layer(prefix + layer.name).set_weights(layer.get_weights())
    return copy.output


def member_shares(n: int, weights: Sequence[float] | None) -> np.ndarray:
    """Each member's share of the ensemble's logits: equal by default, else ``weights``
    normalised to sum to 1."""
    if weights is None:
        return np.full(n, 1.0 / n)
    shares = np.asarray(weights, dtype=float)
    if shares.shape != (n,) or not np.all(np.isfinite(shares)) or np.any(shares <= 0):
        raise ValueError(
            f"Ensemble weights must be {n} positive numbers, one per member. "
            f"Received: weights={list(weights)}"
        )
    return shares / shares.sum()


def _copy_trunk(model, x, prefix: str):
    """``model``'s layers up to ``features``, copied with their weights, and the config of
    a final max-pool (left out, so the ensemble's Grad-CAM works at the finer resolution).
    """
    layers = []
    for layer in model.layers[1:]:
        if layer.name == FEATURES_LAYER:
            break
        layers.append(layer)
    else:
        raise ValueError(f"Model {model.name} has no '{FEATURES_LAYER}' layer to stop at.")
    pool = None
    if layers and layers[-1].__class__.__name__ == "MaxPooling2D":
        pool = {k: v for k, v in layers.pop().get_config().items() if k != "name"}
    for layer in layers:
        copy = layer.__class__.from_config({**layer.get_config(), "name": prefix + layer.name})
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return x, pool


def _shared_recipe(cards: Sequence[ModelCard]) -> dict:
    from skindx.datasets.splits import split_seed

    def shared(card: ModelCard) -> dict:
        recipe = card.training.get("recipe", {})
        values = {key: recipe.get(key) for key in _SHARED_KEYS}
        values["split_seed"] = split_seed(recipe)
        return values

    first, *rest = (shared(card) for card in cards)
    for k, other in enumerate(rest, start=2):
        if other != first:
            differing = sorted(key for key in first if first[key] != other[key])
            raise ValueError(
                f"Member {k} differs from member 1 in {differing}: members must share the "
                "validation split and preprocessing."
            )
    return first


def shared_validation(
    members: Sequence[SkinModel], images: str | Path, metadata: str | Path
) -> tuple[tuple[np.ndarray, np.ndarray, list[str]], dict]:
    """The members' common validation split, decoded as the ensemble sees it (at the largest
    member's size, colour constancy left to the graph): ``(x, labels, image ids), split info``.

    Raises:
        ValueError: the members differ in split or preprocessing.
    """
    from skindx.training.decoded_split import validation_arrays

    _shared_recipe([m.card for m in members])
    largest = max((m.card for m in members), key=lambda card: card.input_size)
    return validation_arrays(_without_colour_constancy(largest), images, metadata)


def uses_colour_constancy(card: ModelCard) -> bool:
    """Whether the model of ``card`` was trained on colour-corrected images."""
    return bool(card.preprocessing.get("color_constancy"))


def _without_colour_constancy(card: ModelCard) -> ModelCard:
    """``card`` as an ensemble's input sees it: colour constancy, where a member needs it,
    is in the ensemble's graph."""
    return replace(card, preprocessing={**card.preprocessing, "color_constancy": False})


def build_ensemble(
    member_dirs: Sequence[str | Path],
    images: str | Path,
    metadata: str | Path,
    out: str | Path,
    weights: Sequence[float] | None = None,
    half_kernels: bool = False,
) -> SkinModel:
    """Combine trained model directories (their logits weighted by ``weights``, equal by
    default; conv kernels stored in float16 with ``half_kernels``), refit calibration on
    their shared validation split, and save the result (``model.keras``, ``ood.npz``,
    ``card.json``) to ``out``."""
    from skindx.training.finishing import finish_with_validation

    members = [load_model(path) for path in member_dirs]
    # checks that they agree
    (x_val, y_val, val_ids), split_info = shared_validation(members, images, metadata)
    size = max(m.card.input_size for m in members)
    shares = member_shares(len(members), weights)
    summaries = [_member_summary(m, path) for m, path in zip(members, member_dirs, strict=True)]
    for summary, share, member in zip(summaries, shares, members, strict=True):
        summary["weight"] = round(float(share), 6)
        # The ensemble's logits keep only the members' weighted mean bias: each member's own,
        # for split() to give it back.
        bias = member.model.get_layer(LOGITS_LAYER).get_weights()[1]
        summary["logit_bias"] = [float(value) for value in bias]
    card = _derived_card(  # preprocessing: the members' (checked equal), colour in the graph
        _without_colour_constancy(members[0].card),
        {"members": summaries, **split_info},
        name=f"skindx-ensemble{len(members)}-{size}",
        architecture={
            "name": "ensemble",
            "input_size": size,
            "members": [m.card.architecture for m in members],
        },
        input_size=size,
    )
    colour = [uses_colour_constancy(m.card) for m in members]
    model = combine([m.model for m in members], shares, colour)
    if half_kernels:  # calibrated below on what ships
        model = with_half_kernels(model)
        card.training["kernel_storage"] = "float16 (computed in float32)"
    skin_model = SkinModel(model, card)
    finish_with_validation(skin_model, x_val, y_val, val_ids, metadata)
    skin_model.save(out)
    return skin_model


def _derived_card(source: ModelCard, training: dict, **fields) -> ModelCard:
    """An uncalibrated card for a model made of ``source``'s networks: its version,
    preprocessing (flip TTA is chosen again for the new model), data and class counts, plus
    ``training`` and ``fields``."""
    return ModelCard(
        version=source.version,
        preprocessing={k: v for k, v in source.preprocessing.items() if k != "tta"},
        training={
            "data": source.training.get("data", "HAM10000, split by lesion_id"),
            "train_images_per_class": source.training.get("train_images_per_class", {}),
            **training,
        },
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **fields,
    )


# What an ensemble's card keeps of each member's training section, with defaults.
_SUMMARY_DEFAULTS = {
    "recipe": {},
    "backend": "tensorflow",
    "best_epoch": None,
    "epochs_run": None,
    "val_balanced_accuracy_best": None,
}


def _member_summary(member: SkinModel, path: str | Path) -> dict:
    training = member.card.training
    summary = {
        "directory": str(path),
        "name": member.card.name,
        "weights_sha256": member.card.weights_sha256,
        **{key: training.get(key, default) for key, default in _SUMMARY_DEFAULTS.items()},
    }
    summary.update({key: training[key] for key in ("split_from", "probe_c") if key in training})
    if uses_colour_constancy(member.card):
        summary["color_constancy"] = True  # applied in the ensemble's graph
    return summary


def split(ensemble: SkinModel) -> list[SkinModel]:
    """The members of an ensemble made by :func:`combine`, each a standalone model again at
    its own input size (uncalibrated: :func:`build_ensemble` fits what it needs), so members
    of different ensembles can be combined.

    An ensemble's graph keeps only the (weighted) mean of its members' logit biases. Each
    member gets its own bias back where the card recorded it (:func:`build_ensemble` does),
    and a standalone member then gives its own logits. Older cards recorded none: every member
    then gets the mean, which moves each one's arg-max (the shipped ``skindx-ensemble4-160``'s
    members score about 0.50 alone on validation that way), though recombining one ensemble's
    members is still exact (the card records where each member came from).

    Raises:
        ValueError: ``ensemble`` is not an ensemble.
    """
    card = ensemble.card
    specs = card.architecture.get("members", [])
    if card.architecture.get("name") != "ensemble" or not specs:
        raise ValueError(f"{card.name} is not an ensemble: it has no members to split.")
    kernel, bias = ensemble.model.get_layer(LOGITS_LAYER).get_weights()
    summaries = card.training.get("members") or [{}] * len(specs)
    members, row = [], 0  # each member's rows of the stacked kernel, in order
    for k, (spec, summary) in enumerate(zip(specs, summaries, strict=True), start=1):
        model = build_model(spec)
        for layer in model.layers:
            if layer.weights and layer.name != LOGITS_LAYER:
                layer.set_weights(ensemble.model.get_layer(f"m{k}_{layer.name}").get_weights())
        logits = model.get_layer(LOGITS_LAYER)
        width = logits.kernel.shape[0]  # the member's feature width, whatever its builder
        share = summary.get("weight", 1.0 / len(specs))  # older cards: equal shares
        own = summary.get("logit_bias")
        own_bias = bias if own is None else np.asarray(own, bias.dtype)
        logits.set_weights([kernel[row : row + width] / share, own_bias])
        row += width
        training = {key: summary[key] for key in _SUMMARY_DEFAULTS if key in summary}
        training["split_from"] = {
            "ensemble": card.name,
            "weights_sha256": card.weights_sha256,
            "member": k,
            "logit_bias": "its own" if own is not None else "the ensemble's mean over its members",
        }
        member_card = _derived_card(
            card,
            training,
            name=summary.get("name", f"{card.name}-member{k}"),
            architecture=spec,
            input_size=spec["input_size"],
        )
        # a member the ensemble colour-corrected in its graph needs it from its preprocessing
        if summary.get("color_constancy"):
            member_card.preprocessing["color_constancy"] = True
        members.append(SkinModel(model, member_card))
    return members
