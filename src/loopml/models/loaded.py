"""``LoadedModel``: a registered model ready to predict, with its signature and version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput
from loopml.store.entities import ModelVersion


@dataclass
class LoadedModel:
    model: Any
    version: ModelVersion

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def flavor(self) -> str:
        return self.version.flavor

    @property
    def signature(self) -> Any:
        """The signature recorded at registration (None if no input example was given)."""
        if self.version.signature is None:
            return None
        from loopml.models.signature import Signature

        return Signature.from_dict(self.version.signature)

    def predict(self, X: Any) -> Any:
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        if not hasattr(self.model, "predict_proba"):
            raise InvalidInput(
                f"model {self.version.uri} ({type(self.model).__name__}) has no predict_proba."
            )
        return self.model.predict_proba(X)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.version.uri} flavor={self.flavor}>"
