/*
 * _treewalk: branch-free evaluation of a flattened tree ensemble (the XGBoost gap model's
 * serving predictor; retailsage/models/compiled_trees.py builds the arrays and is the only
 * caller).
 *
 * Layout, per tree, nodes numbered so that a node's children are adjacent (right = left + 1):
 *   Node {int32 feature; float32 cond; int32 left; int32 default_left}
 * An internal node sends a row right when x[feature] >= cond, or when x[feature] is NaN and
 * default_left is 0 (XGBoost's rule: go left iff x < cond; missing follows the default).
 * A leaf loops to itself: left = its own index, cond = NaN, default_left = 1, so every
 * comparison keeps a row that has reached a leaf where it is. Each tree is then walked exactly
 * `depth` steps for every row with no data-dependent branch, a block of rows at a time so the
 * loads of different rows overlap. Leaf values sit in a parallel float32 array.
 *
 * Sums are float32, tree by tree in model order, starting from the base margin the caller put
 * in `out`: the same arithmetic as XGBoost's CPU predictor, so outputs are bit-identical
 * (tests/models/test_compiled_trees.py checks that against Booster.inplace_predict).
 *
 * int counters keep the inner loop tight (64-bit ones measured ~1.5x slower with gcc 12).
 * The caller validates every index (features < n_features, children inside their tree) when
 * it builds the arrays; this module checks only the buffer sizes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>

typedef struct {
    int32_t feature;
    float cond;
    int32_t left;
    int32_t default_left;
} Node;

enum { BLOCK = 32 };

static void walk(const Node *nodes, const float *values, const int32_t *roots,
                 const int32_t *depths, int n_trees, const float *x, int n_rows,
                 int n_features, float *out)
{
    for (int r0 = 0; r0 < n_rows; r0 += BLOCK) {
        const int rows = (int)((n_rows - r0) < BLOCK ? (n_rows - r0) : BLOCK);
        const float *xb = x + (int64_t)r0 * n_features;
        float acc[BLOCK];
        int32_t at[BLOCK];
        for (int i = 0; i < rows; ++i) {
            acc[i] = out[r0 + i];
        }
        for (int t = 0; t < n_trees; ++t) {
            const Node *tree = nodes + roots[t];
            const float *leaf = values + roots[t];
            for (int i = 0; i < rows; ++i) {
                at[i] = 0;
            }
            for (int32_t step = 0; step < depths[t]; ++step) {
                for (int i = 0; i < rows; ++i) {
                    const Node *node = tree + at[i];
                    const float v = xb[i * n_features + node->feature];
                    at[i] = node->left + ((v >= node->cond) | ((v != v) & !node->default_left));
                }
            }
            for (int i = 0; i < rows; ++i) {
                acc[i] += leaf[at[i]];
            }
        }
        for (int i = 0; i < rows; ++i) {
            out[r0 + i] = acc[i];
        }
    }
}

static PyObject *predict(PyObject *self, PyObject *args)
{
    Py_buffer nodes, values, roots, depths, x, out;
    Py_ssize_t n_features;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*nw*", &nodes, &values, &roots, &depths, &x,
                          &n_features, &out)) {
        return NULL;
    }
    PyObject *result = NULL;
    const Py_ssize_t n_nodes = nodes.len / (Py_ssize_t)sizeof(Node);
    const Py_ssize_t n_trees = roots.len / (Py_ssize_t)sizeof(int32_t);
    const Py_ssize_t n_rows = out.len / (Py_ssize_t)sizeof(float);
    if (nodes.len % (Py_ssize_t)sizeof(Node) != 0 ||
        values.len != n_nodes * (Py_ssize_t)sizeof(float) || depths.len != roots.len ||
        n_features <= 0 || x.len != n_rows * n_features * (Py_ssize_t)sizeof(float) ||
        out.len % (Py_ssize_t)sizeof(float) != 0 || n_rows > INT_MAX || n_trees > INT_MAX ||
        n_features > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "_treewalk.predict: inconsistent buffer sizes");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    walk((const Node *)nodes.buf, (const float *)values.buf, (const int32_t *)roots.buf,
         (const int32_t *)depths.buf, (int)n_trees, (const float *)x.buf, (int)n_rows, (int)n_features,
         (float *)out.buf);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&nodes);
    PyBuffer_Release(&values);
    PyBuffer_Release(&roots);
    PyBuffer_Release(&depths);
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"predict", predict, METH_VARARGS,
     "predict(nodes, values, roots, depths, x, n_features, out): add each row's leaf values "
     "to out (float32, pre-filled with the base margin)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_treewalk", "Branch-free tree-ensemble evaluation.", -1, methods,
};

PyMODINIT_FUNC PyInit__treewalk(void)
{
    return PyModule_Create(&module);
}
