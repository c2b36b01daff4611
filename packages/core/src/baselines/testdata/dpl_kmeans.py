# Writes dpl_kmeans.json, the expected output of DPL's peer-selection step (utils/utils.py
# get_others_by_kmeans, method "closest") on small float32 fixtures, for dplSelect.test.ts.
#
# Run with Debian's scikit-learn (apt-get install python3-sklearn; bookworm has 1.2.1):
#   /usr/bin/python3 packages/core/src/baselines/testdata/dpl_kmeans.py
# DPL's environment has scikit-learn >= 1.4, whose KMeans defaults to n_init="auto" (1 run for k-means++) and
# draws the first k-means++ centre with random_state.choice(n, p=w / w.sum()) (1.3+) instead of
# random_state.randint(n) (1.2). Both are set here so that 1.2.1 runs what DPL's version runs: n_init=1, and a
# RandomState whose one randint(n) call (the first centre) is that choice.
import json
import os

import numpy as np
import sklearn
from sklearn.cluster import KMeans


class Sklearn16FirstCentre(np.random.RandomState):
    def randint(self, low, high=None, size=None, dtype=int):
        if high is None and size is None:
            w = np.ones(low, dtype=np.float32)
            return self.choice(low, p=w / w.sum())
        return super().randint(low, high, size, dtype)


def get_others_by_kmeans(embeddings, n=4):
    # DPL: whole_text_embedding = embedder.encode([cur_text] + others); KMeans(n_clusters=n+1, random_state=42)
    kmeans = KMeans(n_clusters=n + 1, random_state=Sklearn16FirstCentre(42), n_init=1).fit(embeddings)
    labels = kmeans.labels_
    target_label = labels[0]
    centers = kmeans.cluster_centers_
    cluster_dict = {i: [] for i in range(n + 1)}
    for i, label in enumerate(labels[1:], start=1):
        cluster_dict[label].append((i - 1, embeddings[i]))
    results = []
    for cluster in [c for c in cluster_dict if c != target_label and cluster_dict[c]]:
        vectors = cluster_dict[cluster]
        distances = [np.linalg.norm(v[1] - centers[cluster]) for v in vectors]
        results.append(int(vectors[np.argmin(distances)][0]))
    return labels, centers, results


rng = np.random.RandomState(7)
cases = []
for points, dim, spread in [(5, 4, 1.0), (7, 6, 1.0), (9, 8, 0.3), (12, 16, 1.0), (20, 32, 0.5), (30, 12, 2.0)]:
    # a few loose groups, unit-normalised like sentence embeddings
    groups = rng.normal(size=(4, dim))
    x = groups[rng.randint(0, 4, size=points)] + spread * rng.normal(size=(points, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    labels, centers, picks = get_others_by_kmeans(x)
    cases.append(
        {
            "dim": dim,
            "x": [float(v) for v in x.ravel()],
            "labels": [int(v) for v in labels],
            "centers": [float(v) for v in np.asarray(centers, dtype=np.float64).ravel()],
            "picks": picks,
        }
    )
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dpl_kmeans.json")
with open(out, "w") as f:
    json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f)
    f.write("\n")
print(out)
