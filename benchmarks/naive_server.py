"""Naive baseline server, shaped like the AWS bring-your-own-container sample's predictor.py.

Flask + ``pandas.read_csv`` on every request + ``model.predict`` + ``DataFrame.to_csv``, served
by gunicorn sync workers (``NAIVE_MODEL_DIR`` names the model). For benchmarks only.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import flask
import pandas as pd

from retailsage.models.artifacts import load_model

model = load_model(Path(os.environ["NAIVE_MODEL_DIR"]))
app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping() -> flask.Response:
    return flask.Response(response="\n", status=200, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation() -> flask.Response:
    if flask.request.content_type != "text/csv":
        return flask.Response(
            response="This predictor only supports CSV data", status=415, mimetype="text/plain"
        )
    data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
    data.columns = list(model.input_columns)
    predictions = model.predict(data)
    out = io.StringIO()
    pd.DataFrame({"results": predictions.iloc[:, 0]}).to_csv(out, header=False, index=False)
    return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
