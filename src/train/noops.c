/*
 * noops.c — the options that change nothing in the configuration given
 * (rg_config_noops), so that a front end can warn about them.
 *
 * The rule, the same for every option: an option set to other than its
 * default that has nothing to act on in this configuration (--momentum
 * with adam, --monitor without --early-stop, --partition with one worker)
 * is a warning naming the option, its value and what makes it idle, and
 * the run goes on.  An option that asks for what the configuration rules
 * out (--reg-adapt with a global penalty, --compress with another
 * strategy) stays an error, from rg_plan_resolve.  An option that another
 * requires (--reg-scope local for --compress-update) is not named: the
 * user cannot drop it.  Nor is an option of a run that will be refused
 * (--strategy ps with one worker): the refusal is what to act on.
 *
 * Invariant: each rule is one row of a table, read in the option table's
 * order of ideas; an option is named once, by its first rule that holds.
 */
#include "core/core.h"
#include "train/plan.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rule {
    const char *option;
    int idle;              /* it has nothing to act on here */
    const char *why;
} rule;

/* The option's value differs from its default (as text, so any kind). */
static int changed(const rg_config *c, const rg_config *d, const char *name)
{
    char a[1100], b[1100];
    rg_config_get(c, name, a, sizeof a);
    rg_config_get(d, name, b, sizeof b);
    return strcmp(a, b) != 0;
}

static int is_csv(const char *source) { return strncmp(source, "csv:", 4) == 0; }

/* Appends "--NAME[ VALUE] has no effect: WHY\n" to *out (grown). */
static int add_line(char **out, size_t *len, const rg_config *c, const rule *r)
{
    size_t n;
    const rg_option *o = rg_options(&n);
    int i = rg_option_index(r->option);
    char value[1100] = "", line[1600];
    if (i >= 0 && o[i].arg) rg_config_get(c, r->option, value, sizeof value);
    int k = snprintf(line, sizeof line, "--%s%s%s has no effect: %s\n", r->option, value[0] ? " " : "", value, r->why);
    size_t add = k < 0 ? 0 : (size_t)k < sizeof line ? (size_t)k : sizeof line - 1;
    char *grown = realloc(*out, *len + add + 1);
    if (!grown) return 0;
    memcpy(grown + *len, line, add);
    *len += add;
    grown[*len] = 0;
    *out = grown;
    return 1;
}

char *rg_config_noops(const rg_config *c, int processes)
{
    rg_config d;
    rg_config_defaults(&d);
    int sgd = !strcmp(c->optimizer, "sgd"), rms = !strcmp(c->optimizer, "rmsprop"), plateau = !strcmp(c->lr_schedule, "plateau"), es = c->early_stop > 0, world = c->workers * (processes > 0 ? processes : 1);
    int iid = !strcmp(c->partition, "iid"), csv = is_csv(c->data) || is_csv(c->test_data) || is_csv(c->input);
    int local = !strcmp(c->strategy, "local-sgd"), easgd = !strncmp(c->strategy, "easgd", 5);   /* and easgd-async */
    int fed = c->clients > 0;
    /* easgd ties even one worker to a centre that follows it (the model
     * out is the centre); ps and easgd-async with one worker are refused
     * (rg_train: no rank is left to train), and a refused run is not warned */
    int combines = !strcmp(c->strategy, "local-sgd") || !strcmp(c->strategy, "hogwild");
    int hogwild = !strcmp(c->strategy, "hogwild");
    /* --compress-update and --reg-adapt need --reg-scope local, even where it changes nothing */
    int scope_needed = c->compress_update || strcmp(c->reg_adapt, "none") != 0;
    int adaptive = !strcmp(c->algo, "fedadam") || !strcmp(c->algo, "fedyogi");
    int stateful = !strcmp(c->algo, "scaffold") || !strcmp(c->algo, "feddyn");
    int reg = !strcmp(c->loss, "mse") || !strcmp(c->loss, "mae");
    const rule rules[] = {
        { "momentum", !sgd && !rms, "adam and adamw keep no momentum buffer (their --beta1 is the first moment's decay)" },
        { "nesterov", !sgd, "Nesterov momentum is sgd's (--optimizer sgd --momentum X --nesterov)" },
        { "nesterov", c->momentum == 0.0, "without --momentum, Nesterov's update is plain sgd" },
        { "beta1", sgd || rms, "--beta1 and --beta2 are adam's and adamw's (rmsprop's decay is --rho)" },
        { "beta2", sgd || rms, "--beta1 and --beta2 are adam's and adamw's (rmsprop's decay is --rho)" },
        { "rho", !rms, "it is --optimizer rmsprop's decay" },
        { "eps", sgd, "sgd keeps no moments (--eps is adam's, adamw's and rmsprop's)" },
        { "lr-step-epochs", strcmp(c->lr_schedule, "step") != 0, "it paces --lr-schedule step, which is not the schedule" },
        { "lr-gamma", strcmp(c->lr_schedule, "step") && !plateau, "it is --lr-schedule step's and plateau's factor, and neither is the schedule" },
        { "lr-min", strcmp(c->lr_schedule, "cosine") && !plateau, "it is --lr-schedule cosine's and plateau's floor, and neither is the schedule" },
        { "lr-patience", !plateau, "it paces --lr-schedule plateau, which is not the schedule" },
        { "monitor", !es && !plateau && !c->save_best[0],
          "it is what --early-stop, --save-best and --lr-schedule plateau watch, and none is given" },
        { "min-delta", !es && !plateau && !c->save_best[0],
          "it is what --early-stop, --save-best and --lr-schedule plateau count as improvement, and none is given" },
        { "no-restore-best", !es, "early stopping is off: the last weights are the result anyway" },
        { "label-smoothing", reg, "a regression (--loss mse or mae) has numeric targets, no labels to smooth" },
        { "header", !csv, "it is for csv: sources, and none is given" },
        { "label-column", !csv, "it is for csv: sources, and none is given" },
        { "test-header", !is_csv(c->test_data), "it is for a csv: --test-data, and none is given" },
        { "test-label-column", !is_csv(c->test_data), "it is for a csv: --test-data, and none is given" },
        { "partition", world == 1 && !fed, "one worker trains on all the data" },
        { "worker-batch", world == 1, "one worker takes every batch whole" },
        { "worker-batch", iid, "with --partition iid every worker takes an equal share of each batch and none runs dry" },
        { "reg-scope", world == 1 && !fed && !scope_needed, "with one worker a local and a global penalty are the same sum" },
        { "reg-adapt", world == 1, "one worker keeps the configured strength" },
        { "shard-optimizer", world == 1, "one worker keeps the whole optimizer state" },
        { "shard-optimizer", c->deterministic, "--deterministic has its own exchange" },
        { "strategy", world == 1 && combines, "one worker has no one to combine its work with" },
        { "sync-every", !local && !easgd, "it paces --strategy local-sgd, easgd or easgd-async, and none is the strategy" },
        { "sync-warmup", !local, "it is --strategy local-sgd's, which is not the strategy" },
        { "local-moments", !local, "it is --strategy local-sgd's, which is not the strategy" },
        { "local-moments", strcmp(c->compress, "none") != 0,
          "with --compress a sync sends the weights' change alone: the moments are local between full syncs already" },
        { "elastic", !easgd, "it is --strategy easgd's and easgd-async's, and neither is the strategy" },
        { "servers", strcmp(c->strategy, "ps") != 0, "it is --strategy ps's, which is not the strategy" },
        { "staleness", strcmp(c->strategy, "ps") != 0, "it is --strategy ps's, which is not the strategy" },
        { "staleness-lr", strcmp(c->strategy, "ps") != 0, "it is --strategy ps's, which is not the strategy" },
        { "pull-first", strcmp(c->strategy, "ps") != 0, "it is --strategy ps's, which is not the strategy" },
        { "pull-first", c->staleness == 0, "--staleness 0 is bulk-synchronous: every pull waits for every push" },
        { "error-feedback", !strcmp(c->compress, "none"), "it keeps what --compress leaves out, and nothing is compressed" },
        { "dgc-warmup", strncmp(c->compress, "dgc:", 4) != 0, "it is --compress dgc's, which is not the codec" },
        { "link", world == 1, "one worker exchanges nothing" },
        { "link", hogwild, "--strategy hogwild's threads share one copy of the weights: nothing is sent" },
        { "det-shards", !c->deterministic, "it is how --deterministic cuts each batch, and --deterministic is off" },
        /* asking for step events that go nowhere (--log-every 0, turning them off, is no slip) */
        { "log-every", !c->log[0] && c->log_every > 0, "step events go to --log, which is not given" },
        { "keep", c->checkpoint_every == 0 && !c->checkpoint_every_epoch,
          "it prunes --checkpoint-every's checkpoints, and there are none" },
        { "comm-timeout", processes <= 1, "it bounds waits for MPI peers, and the run has none (not under mpirun)" },
        { "progress", c->quiet, "--quiet shows no progress" },
        { "mu", strcmp(c->algo, "fedprox") != 0, "it is --algo fedprox's proximal strength, and fedprox is not the algorithm" },
        { "mu-adapt", strcmp(c->algo, "fedprox") && strcmp(c->reg_scope, "local"),
          "it sets each client's --mu (fedprox) and, under --reg-scope local, its L1/L2 strength; neither applies" },
        { "feddyn-alpha", strcmp(c->algo, "feddyn") != 0, "it is --algo feddyn's, which is not the algorithm" },
        { "server-lr", !strcmp(c->algo, "feddyn"), "feddyn's server step has no rate (its h / alpha sets it)" },
        { "server-beta1", !adaptive, "it is --algo fedadam's and fedyogi's, and neither is the algorithm" },
        { "server-beta2", !adaptive, "it is --algo fedadam's and fedyogi's, and neither is the algorithm" },
        { "server-eps", !adaptive, "it is --algo fedadam's and fedyogi's, and neither is the algorithm" },
        { "dp-delta", c->dp_clip <= 0.0, "it is the delta at which DP-FedAvg's epsilon is reported, and --dp-clip is off" },
        /* round(FRACTION x clients) attack (attack.c): a share below half a client is none */
        { "attackers", fed && strcmp(c->attack, "none") && lround(c->attackers * (double)c->clients) < 1,
          "round(FRACTION x --clients) is 0: no client attacks, and --attack changes nothing" },
        { "client-state", !stateful, "it is where scaffold's and feddyn's clients keep their state, and neither is "
          "the algorithm" },
        { "client-state-dir", !stateful || !strcmp(c->client_state, "memory"),
          "it is where --client-state disk keeps scaffold's and feddyn's clients' state, and that is not on disk" },
    };
    char *out = malloc(1);
    size_t len = 0, nr = sizeof rules / sizeof *rules;
    if (!out) return NULL;
    out[0] = 0;
    for (size_t i = 0; i < nr; i++) {
        int named = 0;   /* an option is named once, by its first idle rule */
        for (size_t j = 0; j < i; j++) named |= !strcmp(rules[j].option, rules[i].option) && rules[j].idle;
        if (named || !rules[i].idle || !changed(c, &d, rules[i].option)) continue;
        if (!add_line(&out, &len, c, &rules[i])) {
            free(out);
            rg_error(RG_ENOMEM, "out of memory listing the options that change nothing");
            return NULL;
        }
    }
    return out;
}
