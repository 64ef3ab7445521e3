/* test_config.c — the option table, defaults, text and JSON parsing, range
 * checks, canonical JSON and its hash (src/train/config.c). */
#include "support.h"
#include "regula.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *get(const rg_config *c, const char *name)
{
    static char buf[4][1100];
    static int slot;
    char *b = buf[slot++ & 3];
    rg_config_get(c, name, b, sizeof buf[0]);
    return b;
}

#define assert_contains(hay, needle)                                                   \
    do {                                                                               \
        if (!strstr((hay), (needle))) {                                                \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (hay));                     \
        }                                                                              \
    } while (0)

static void test_defaults(void **state)
{
    (void)state;
    rg_config c;
    rg_config_defaults(&c);
    assert_string_equal(get(&c, "data"), "fashion-mnist");
    assert_string_equal(get(&c, "test-data"), "");
    assert_string_equal(get(&c, "model"),
                        "dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)");
    assert_string_equal(get(&c, "optimizer"), "adam");
    assert_string_equal(get(&c, "lr"), "0.001");
    assert_string_equal(get(&c, "beta1"), "0.9");
    assert_string_equal(get(&c, "beta2"), "0.999");
    assert_string_equal(get(&c, "eps"), "1e-07");
    assert_string_equal(get(&c, "weight-decay"), "0");
    assert_string_equal(get(&c, "lr-schedule"), "constant");
    assert_string_equal(get(&c, "lr-step-epochs"), "3");
    assert_string_equal(get(&c, "lr-gamma"), "0.1");
    assert_string_equal(get(&c, "batch"), "32");
    assert_string_equal(get(&c, "epochs"), "10");
    assert_string_equal(get(&c, "seed"), "1");
    assert_string_equal(get(&c, "monitor"), "val_loss");
    assert_string_equal(get(&c, "log-every"), "100");
    assert_string_equal(get(&c, "threads"), "1");
    assert_string_equal(get(&c, "no-shuffle"), "false");
    assert_string_equal(get(&c, "no-restore-best"), "false");
    assert_string_equal(get(&c, "header"), "false");
    assert_string_equal(get(&c, "unknown-thing"), "");
    assert_int_equal(c.shuffle, 1);
    assert_int_equal(c.restore_best, 1);
    assert_string_equal(c.label_column, "");   /* column 0, or none for predict */
    assert_string_equal(c.test_header, "same");
    assert_true(c.eps == 1e-7);
    assert_int_equal(rg_config_validate(&c), RG_OK);
}

static void test_table(void **state)
{
    (void)state;
    size_t n;
    const rg_option *o = rg_options(&n);
    assert_true(n >= 39);
    int saw_config = 0;
    rg_config c;
    rg_config_defaults(&c);
    char *json = rg_config_json(&c);
    assert_non_null(json);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(o[i].name);
        assert_non_null(o[i].help);
        assert_non_null(o[i].commands);
        assert_true(strlen(o[i].help) > 5);
        assert_true(strstr(o[i].commands, "train") || strstr(o[i].commands, "eval") ||
                    strstr(o[i].commands, "predict") || strstr(o[i].commands, "fed"));
        for (size_t j = 0; j < i; j++) assert_string_not_equal(o[i].name, o[j].name);
        char key[80];
        snprintf(key, sizeof key, "\"%s\":", o[i].name);
        if (!strcmp(o[i].name, "config")) {
            saw_config = 1;
            assert_null(strstr(json, key));
        } else {
            assert_contains(json, key);
        }
    }
    assert_true(saw_config);
    free(json);
}

static void test_set_get_each_type(void **state)
{
    (void)state;
    rg_config c;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "data", "csv:/tmp/x.csv"), RG_OK);     /* string */
    assert_string_equal(c.data, "csv:/tmp/x.csv");
    assert_int_equal(rg_config_set(&c, "test_data", "idx:/d"), RG_OK);       /* underscore */
    assert_string_equal(c.test_data, "idx:/d");
    assert_int_equal(rg_config_set(&c, "optimizer", "sgd"), RG_OK);          /* enum */
    assert_string_equal(c.optimizer, "sgd");
    assert_int_equal(rg_config_set(&c, "nesterov", NULL), RG_OK);            /* flag */
    assert_int_equal(c.nesterov, 1);
    assert_int_equal(rg_config_set(&c, "nesterov", "false"), RG_OK);
    assert_int_equal(c.nesterov, 0);
    assert_int_equal(rg_config_set(&c, "no-shuffle", NULL), RG_OK);          /* negated flag */
    assert_int_equal(c.shuffle, 0);
    assert_string_equal(get(&c, "no-shuffle"), "true");
    assert_int_equal(rg_config_set(&c, "no_restore_best", "true"), RG_OK);
    assert_int_equal(c.restore_best, 0);
    assert_int_equal(rg_config_set(&c, "label-column", "-1"), RG_OK);        /* a column: number */
    assert_string_equal(c.label_column, "-1");
    assert_int_equal(rg_config_data_opts(&c, "train").label_column, -1);
    assert_int_equal(rg_config_set(&c, "label-column", "species"), RG_OK);   /* ... or name */
    assert_string_equal(rg_config_data_opts(&c, "train").label_name, "species");
    assert_string_equal(rg_config_data_opts(&c, "test").label_name, "species");
    assert_int_equal(rg_config_data_opts(&c, "input").drop_label, 1);
    assert_int_equal(rg_config_set(&c, "test-label-column", "2"), RG_OK);
    assert_int_equal(rg_config_set(&c, "test-header", "No"), RG_OK);
    assert_int_equal(rg_config_set(&c, "header", NULL), RG_OK);
    {
        rg_data_opts t = rg_config_data_opts(&c, "test"), r = rg_config_data_opts(&c, "train");
        assert_int_equal(t.label_column, 2);
        assert_null(t.label_name);
        assert_int_equal(t.header, 0);
        assert_int_equal(r.header, 1);
    }
    {   /* JSON: a column number stays a number, a name a string */
        char *j = rg_config_json(&c);
        assert_non_null(strstr(j, "\"label-column\": \"species\""));
        assert_non_null(strstr(j, "\"test-label-column\": 2"));
        free(j);
    }
    rg_config_defaults(&c);
    assert_int_equal(rg_config_data_opts(&c, "train").label_column, 0);   /* the default */
    assert_int_equal(rg_config_data_opts(&c, "input").label_column, -2);
    assert_int_equal(rg_config_data_opts(&c, "input").drop_label, 0);
    assert_int_equal(rg_config_set(&c, "batch", "128"), RG_OK);              /* long */
    assert_int_equal(c.batch, 128);
    assert_int_equal(rg_config_set(&c, "seed", "18446744073709551615"), RG_OK); /* u64 */
    assert_true(c.seed == UINT64_MAX);
    assert_string_equal(get(&c, "seed"), "18446744073709551615");
    assert_int_equal(rg_config_set(&c, "scale", "0.5"), RG_OK);              /* float */
    assert_true(c.scale == 0.5f);
    assert_int_equal(rg_config_set(&c, "scale", "0.00392156863"), RG_OK); /* read back as the float holds it */
    assert_string_equal(get(&c, "scale"), "0.003921569");
    assert_int_equal(rg_config_set(&c, "lr", "3e-4"), RG_OK);                /* double */
    assert_true(c.lr == 3e-4);
    assert_string_equal(get(&c, "lr"), "0.0003");
    assert_int_equal(rg_config_set(&c, "lr", "0.1"), RG_OK);
    assert_string_equal(get(&c, "lr"), "0.1");
}

static void expect_set_error(const char *name, const char *value, const char *fragment)
{
    rg_config c, before;
    rg_config_defaults(&c);
    before = c;
    assert_int_equal(rg_config_set(&c, name, value), RG_EUSAGE);
    assert_contains(rg_last_error(), fragment);
    /* A failed set changes nothing. */
    assert_memory_equal(&c, &before, sizeof c);
}

static void test_set_errors(void **state)
{
    (void)state;
    expect_set_error("lr", "abc", "--lr: 'abc' is not a number");
    expect_set_error("lr", "", "--lr: '' is not a number");
    expect_set_error("lr", " 1", "is not a number");
    expect_set_error("lr", "0.1x", "--lr: '0.1x' is not a number");
    expect_set_error("lr", "nan", "--lr: 'nan' is not a finite number");
    expect_set_error("lr", "inf", "not a finite number");
    expect_set_error("lr", NULL, "--lr: expects a value");
    expect_set_error("scale", "1e300", "--scale: '1e300' is out of range");
    expect_set_error("optimizer", "foo",
                     "--optimizer: unknown value 'foo' (expected sgd, adam, adamw or rmsprop)");
    expect_set_error("lr-schedule", "linear", "(expected constant, step, cosine or plateau)");
    expect_set_error("monitor", "acc", "(expected val_loss, val_acc or val_mae)");
    expect_set_error("foo", "1", "unknown option --foo");
    expect_set_error("lrr", "1", "unknown option --lrr (did you mean --lr?)");
    expect_set_error("batch", "1.5", "--batch: '1.5' is not an integer");
    expect_set_error("batch", "99999999999999999999999", "out of range");
    expect_set_error("threads", "4294967296", "--threads: '4294967296' is out of range");
    expect_set_error("seed", "-1", "--seed: '-1' is not a non-negative integer");
    expect_set_error("seed", "18446744073709551616", "out of range");
    expect_set_error("header", "yes", "--header: expected true or false, got 'yes'");
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    expect_set_error("save", big, "--save: value is too long (at most 511 characters)");
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
    const char *p = rgt_path(dir, name);
    rgt_write(p, text, strlen(text));
    return strdup(p);
}

static void test_json_load(void **state)
{
    (void)state;
    char *dir = rgt_tmpdir();
    char *p = write_tmp(dir, "cfg.json",
                        "{\n  \"lr\": 0.05, \"batch\": 64, \"optimizer\": \"sgd\",\n"
                        "  \"nesterov\": true, \"momentum\": 0.9, \"shuffle\": false,\n"
                        "  \"restore_best\": false, \"model\": \"dense(3, softmax)\",\n"
                        "  \"seed\": 42, \"scale\": 0.25, \"no-shuffle\": false\n}\n");
    rg_config c;
    rg_config_defaults(&c);
    /* "shuffle": false and "no-shuffle": false name the same setting. */
    assert_int_equal(rg_config_load_json(&c, p), RG_EUSAGE);
    assert_contains(rg_last_error(), "key 'no-shuffle' sets --no-shuffle again");
    free(p);

    p = write_tmp(dir, "cfg.json",
                  "{\n  \"lr\": 0.05, \"batch\": 64, \"optimizer\": \"sgd\",\n"
                  "  \"nesterov\": true, \"momentum\": 0.9, \"shuffle\": false,\n"
                  "  \"restore_best\": false, \"model\": \"dense(3, softmax)\",\n"
                  "  \"seed\": 42, \"scale\": 0.25\n}\n");
    assert_int_equal(rg_config_load_json(&c, p), RG_OK);
    assert_true(c.lr == 0.05);
    assert_int_equal(c.batch, 64);
    assert_string_equal(c.optimizer, "sgd");
    assert_int_equal(c.nesterov, 1);
    assert_true(c.momentum == 0.9);
    assert_int_equal(c.shuffle, 0);
    assert_int_equal(c.restore_best, 0);
    assert_string_equal(c.model, "dense(3, softmax)");
    assert_true(c.seed == 42);
    assert_true(c.scale == 0.25f);
    assert_int_equal(c.epochs, 10);   /* untouched keys keep their values */

    /* argv-style sets after the file win, as in the CLI */
    assert_int_equal(rg_config_set(&c, "lr", "0.2"), RG_OK);
    assert_int_equal(rg_config_set(&c, "optimizer", "adamw"), RG_OK);
    assert_true(c.lr == 0.2);
    assert_string_equal(c.optimizer, "adamw");
    assert_int_equal(c.batch, 64);

    /* --config through rg_config_set loads the file */
    rg_config d;
    rg_config_defaults(&d);
    assert_int_equal(rg_config_set(&d, "config", p), RG_OK);
    assert_int_equal(d.batch, 64);
    free(p);
    rgt_rmtree(dir);
    free(dir);
}

static void expect_json_error(const char *text, rg_status want, const char *fragment)
{
    char *dir = rgt_tmpdir();
    char *p = write_tmp(dir, "cfg.json", text);
    rg_config c, before;
    rg_config_defaults(&c);
    before = c;
    assert_int_equal(rg_config_load_json(&c, p), want);
    assert_contains(rg_last_error(), fragment);
    assert_contains(rg_last_error(), "cfg.json");
    /* A bad file changes nothing, even after good keys. */
    assert_memory_equal(&c, &before, sizeof c);
    free(p);
    rgt_rmtree(dir);
    free(dir);
}

static void test_json_errors(void **state)
{
    (void)state;
    expect_json_error("{\"batch\": 8, \"lr\": \"0.1\"}", RG_EUSAGE,
                      "cfg.json: key 'lr': expected a number, got a string");
    expect_json_error("{\"batch\": 8, \"model\": 3}", RG_EUSAGE,
                      "key 'model': expected a string, got a number");
    expect_json_error("{\"header\": 1}", RG_EUSAGE, "key 'header': expected true or false, got a number");
    expect_json_error("{\"batch\": 3.5}", RG_EUSAGE, "key 'batch': expected an integer, got 3.5");
    expect_json_error("{\"batch\": 8, \"foo\": 1}", RG_EUSAGE, "key 'foo': unknown option --foo");
    expect_json_error("{\"optimizer\": \"adagrad\"}", RG_EUSAGE,
                      "key 'optimizer': unknown value 'adagrad' (expected sgd, adam, adamw or rmsprop)");
    expect_json_error("{\"config\": \"other.json\"}", RG_EUSAGE, "cannot name another");
    expect_json_error("{\"lr\": null}", RG_EUSAGE, "expected a number, got null");
    expect_json_error("[1, 2]", RG_EUSAGE, "expected a JSON object of options, got an array");
    expect_json_error("{\n  \"lr\": 0.1,\n  \"batch\": ,\n}\n", RG_EUSAGE, "invalid JSON at line 3");
    expect_json_error("", RG_EUSAGE, "invalid JSON at line 1");

    rg_config c;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_load_json(&c, "/nonexistent/dir/cfg.json"), RG_EIO);
    assert_contains(rg_last_error(), "/nonexistent/dir/cfg.json: cannot open");
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    rg_config c, d;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "model", "dense(4, relu) dense(\"2\", softmax)\\"), RG_OK);
    assert_int_equal(rg_config_set(&c, "lr", "0.123456789012345"), RG_OK);
    assert_int_equal(rg_config_set(&c, "no-shuffle", NULL), RG_OK);
    assert_int_equal(rg_config_set(&c, "scale", "0.1"), RG_OK);
    assert_int_equal(rg_config_set(&c, "seed", "123456789"), RG_OK);
    char *json = rg_config_json(&c);
    assert_non_null(json);

    /* Numbers are numbers, flags booleans, keys in table order. */
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(root, "lr")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(root, "batch")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "no-shuffle")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(root, "nesterov")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(root, "model")));
    assert_string_equal(root->child->string, "data");
    cJSON_Delete(root);

    char *dir = rgt_tmpdir();
    char *p = write_tmp(dir, "c.json", json);
    rg_config_defaults(&d);
    assert_int_equal(rg_config_load_json(&d, p), RG_OK);
    char *json2 = rg_config_json(&d);
    assert_string_equal(json, json2);
    assert_true(d.lr == c.lr);
    assert_true(d.scale == c.scale);
    assert_string_equal(d.model, c.model);
    assert_true(rg_config_hash(&c) == rg_config_hash(&d));
    free(json);
    free(json2);
    free(p);
    rgt_rmtree(dir);
    free(dir);
}

/* Every setting that shapes training, changed alone, changes the hash;
 * output files and the logging frequency do not. */
static void test_hash_sees_every_setting(void **state)
{
    (void)state;
    static const char *candidates[] = {"7", "0.5", "sgd", "cosine", "val_acc", "x.csv", "local", "size", "equal",
                                       "local-sgd", "on", "lines", "yes", "json", "bce", "fedprox", "openblas", "disk"};
    size_t n;
    const rg_option *o = rg_options(&n);
    rg_config base;
    rg_config_defaults(&base);
    uint64_t h0 = rg_config_hash(&base);
    assert_true(h0 != 0);
    assert_true(h0 == rg_config_hash(&base));
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(o[i].name, "config")) continue;
        rg_config c = base;
        char before[1100];
        rg_config_get(&c, o[i].name, before, sizeof before);
        if (!o[i].arg) {
            assert_int_equal(rg_config_set(&c, o[i].name, strcmp(before, "true") ? "true" : "false"), RG_OK);
        } else {
            int ok = 0;
            for (size_t k = 0; k < sizeof candidates / sizeof *candidates && !ok; k++)
                ok = rg_config_set(&c, o[i].name, candidates[k]) == RG_OK &&
                     strcmp(get(&c, o[i].name), before) != 0;
            if (!ok) fail_msg("could not change --%s", o[i].name);
        }
        /* outputs, logging frequency, checkpointing and timeouts are not
         * what was trained */
        static const char *outputs[] = {"log", "save", "save-best", "checkpoint-every-epoch", "load", "input", "log-every", "checkpoint-every",
                                        "checkpoint-dir", "keep", "resume", "comm-timeout", "progress",
                                        "quiet", "verbose", "proba", "top", "metrics", "format", "client-state",
                                        "client-state-dir"};
        int output = 0;
        for (size_t k = 0; k < sizeof outputs / sizeof *outputs; k++) output |= !strcmp(o[i].name, outputs[k]);
        if (output && rg_config_hash(&c) != h0) fail_msg("hash depends on output option --%s", o[i].name);
        if (!output && rg_config_hash(&c) == h0) fail_msg("hash ignores --%s", o[i].name);
        changed++;
    }
    assert_int_equal(changed, n - 1);
}

static void expect_invalid(const char *name, const char *value, const char *fragment)
{
    rg_config c;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, name, value), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), fragment);
}

static void test_validate(void **state)
{
    (void)state;
    expect_invalid("lr", "-1", "--lr must be a finite number >= 0, got -1");
    expect_invalid("batch", "0", "--batch must be a batch size >= 1, got 0");
    expect_invalid("epochs", "0", "--epochs must be");
    expect_invalid("val-split", "1", "--val-split must be a fraction in [0,1), got 1");
    expect_invalid("val-split", "-0.1", "--val-split must be");
    expect_invalid("label-smoothing", "1", "--label-smoothing must be in [0,1)");
    expect_invalid("clip-norm", "-1", "--clip-norm must be");
    expect_invalid("momentum", "1", "--momentum must be in [0,1)");
    expect_invalid("beta1", "1", "--beta1 must be");
    expect_invalid("beta2", "-0.5", "--beta2 must be");
    expect_invalid("eps", "0", "--eps must be a number > 0");
    expect_invalid("eps", "1e-50", "--eps must be a number > 0 that a float can hold");
    expect_invalid("lr", "1e39", "--lr must be a number a float can hold");
    expect_invalid("weight-decay", "-0.01", "--weight-decay must be");
    expect_invalid("threads", "0", "--threads must be");
    expect_invalid("early-stop", "-1", "--early-stop must be");
    expect_invalid("warmup", "-5", "--warmup must be");
    expect_invalid("log-every", "-1", "--log-every must be");
    expect_invalid("limit", "-1", "--limit must be");
    expect_invalid("lr-step-epochs", "0", "--lr-step-epochs must be");
    expect_invalid("lr-gamma", "0", "--lr-gamma must be");
    expect_invalid("lr-min", "-1", "--lr-min must be");
    expect_invalid("min-delta", "-1", "--min-delta must be");
    expect_invalid("label-column", "-2", "--label-column must be");
    expect_invalid("test-label-column", "-3", "--test-label-column must be");
    expect_invalid("scale", "-1", "--scale must be");

    /* A struct filled by hand is checked too. */
    rg_config c;
    rg_config_defaults(&c);
    c.lr = NAN;
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), "--lr must be a finite number >= 0, got nan");
    rg_config_defaults(&c);
    snprintf(c.optimizer, sizeof c.optimizer, "lbfgs");
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), "--optimizer: unknown value 'lbfgs'");
    rg_config_defaults(&c);
    memset(c.save, 'x', sizeof c.save);
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), "--save: value is not terminated");

    /* A regression (--loss mse|mae) has no classes: what needs them is refused, naming the option. */
    int opt;
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "loss", "mse"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_OK);
    assert_int_equal(rg_config_set(&c, "class-weight", "balanced"), RG_OK);
    assert_int_equal(rg_config_check(&c, &opt), RG_EUSAGE);
    assert_contains(rg_last_error(), "--class-weight balanced: weighs classes, and --loss mse is a regression");
    assert_string_equal(rg_options(&(size_t){0})[opt].name, "class-weight");
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "loss", "mae"), RG_OK);
    assert_int_equal(rg_config_set(&c, "monitor", "val_acc"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), "--monitor val_acc: --loss mae is a regression");
    assert_int_equal(rg_config_set(&c, "monitor", "val_mae"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_OK);
    assert_int_equal(rg_config_set(&c, "loss", "auto"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), "--monitor val_mae: the mean absolute error is a regression's");
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "loss", "mse"), RG_OK);
    assert_int_equal(rg_config_set(&c, "partition", "shards:2"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_EUSAGE);
    assert_contains(rg_last_error(), "--partition shards:2: skews or measures the classes");
    assert_int_equal(rg_config_set(&c, "partition", "quantity:1"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_OK);
    assert_int_equal(rg_config_data_opts(&c, "train").targets, 1);
    assert_int_equal(rg_config_data_opts(&c, "input").targets, 0);

    /* Edge values that are allowed. */
    rg_config_defaults(&c);
    assert_int_equal(rg_config_set(&c, "lr", "0"), RG_OK);
    assert_int_equal(rg_config_set(&c, "val-split", "0.999"), RG_OK);
    assert_int_equal(rg_config_set(&c, "label-column", "-1"), RG_OK);
    assert_int_equal(rg_config_validate(&c), RG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_set_get_each_type),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_json_load),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_hash_sees_every_setting),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
