/*
 * train_arrays.c — libregula from another program: train on arrays made
 * in memory, then evaluate.  No file is read or written.
 *
 * The data are three clouds of points in 8 dimensions, one per class,
 * drawn with the library's keyed generator (so every run sees the same
 * numbers); 600 samples to train on, 300 to test on.  The model is a small
 * MLP with L2 and dropout, trained with Adam through rg_train, the call
 * `regula train` makes.  Exits 0 when the test accuracy is at least 0.9.
 *
 * Build against an installed libregula:
 *   cc train_arrays.c $(pkg-config --cflags --libs regula) -o train_arrays
 * or with CMake: find_package(regula) and link regula::regula.
 */
#include <regula.h>
#include <stdio.h>
#include <stdlib.h>

enum { FEATURES = 8, CLASSES = 3 };

/* n samples: class i % 3, features around +2 on the class's own pair of
 * axes, uniform noise of +-1.5 everywhere. */
static rg_dataset *clouds(size_t n, uint64_t seed)
{
    float *x = malloc(n * FEATURES * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    rg_dataset *ds = NULL;
    if (x && y) {
        for (size_t i = 0; i < n; i++) {
            y[i] = (int32_t)(i % CLASSES);
            for (size_t j = 0; j < FEATURES; j++) {
                float noise = 3.0f * rg_rng_uniform(seed, RG_RNG_USER, i, j) - 1.5f;
                x[i * FEATURES + j] = noise + (j / 2 == (size_t)y[i] ? 2.0f : 0.0f);
            }
        }
        if (rg_dataset_from_arrays(x, y, n, FEATURES, &ds) != RG_OK) ds = NULL;
    }
    free(x);
    free(y);
    return ds;
}

/* Settings by name, as the command line and --config give them. */
static rg_status configure(rg_config *c)
{
    static const char *const settings[][2] = {
        {"optimizer", "adam"}, {"lr", "0.01"}, {"batch", "32"}, {"epochs", "20"}, {"seed", "7"},
    };
    rg_config_defaults(c);
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        rg_status s = rg_config_set(c, settings[i][0], settings[i][1]);
        if (s != RG_OK) return s;
    }
    return rg_config_validate(c);
}

int main(void)
{
    rg_dataset *train = clouds(600, 1), *test = clouds(300, 2);
    rg_model *m = NULL;
    rg_config c;
    rg_train_result r;
    double loss, acc;
    int code = 1;
    if (!train || !test) {
        fprintf(stderr, "train_arrays: cannot make the data (out of memory)\n");
        goto out;
    }
    if (configure(&c) != RG_OK ||
        rg_model_create("dense(16, relu, l2=0.001) dropout(0.2) dense(3, softmax)", FEATURES, c.seed, &m) != RG_OK ||
        rg_train(&c, m, train, NULL, test, NULL, NULL, &r) != RG_OK ||
        rg_evaluate(m, test, 0, &loss, &acc) != RG_OK) {
        fprintf(stderr, "train_arrays: %s\n", rg_last_error());
        goto out;
    }
    printf("regula %s: %d epochs, %llu steps; test loss %.4f, test accuracy %.4f\n", RG_VERSION, r.epochs_run,
           (unsigned long long)r.steps, loss, acc);
    code = acc >= 0.9 ? 0 : 1;
    if (code) fprintf(stderr, "train_arrays: test accuracy %.4f is below 0.9\n", acc);
out:
    rg_model_free(m);
    rg_dataset_free(train);
    rg_dataset_free(test);
    return code;
}
