/* lua/main.c — the runctl command: flags, loading the script (file, bundled
 * name, -e or stdin), running it as the main task, exit status. */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <signal.h>

#include <lualib.h>

#ifndef RUNCTL_DATADIR
#define RUNCTL_DATADIR "/usr/local/share/runctl"
#endif

static const char usage_text[] =
    "usage: runctl [OPTIONS] SCRIPT [ARGS...]   run a Lua script, or a bundled one by name\n"
    "       runctl [OPTIONS] -e CODE [ARGS...]  run CODE\n"
    "       runctl [OPTIONS] - [ARGS...]        run the script read from standard input\n"
    "\n"
    "Options (before the script; what follows the script is the script's):\n"
    "  --base-url URL      API base URL (default: $OPENAI_BASE_URL or https://api.openai.com/v1)\n"
    "  --org ID            OpenAI-Organization header (default: $OPENAI_ORG_ID)\n"
    "  --project ID        OpenAI-Project header (default: $OPENAI_PROJECT_ID)\n"
    "  --max-retries N     retries after a failed attempt (default 2)\n"
    "  --timeout SECONDS   per-attempt timeout, body included (default 600)\n"
    "  --dry-run           refuse every request that is not a GET\n"
    "  --azure             use Azure OpenAI: $AZURE_OPENAI_API_KEY, $AZURE_OPENAI_ENDPOINT,\n"
    "                      $OPENAI_API_VERSION\n"
    "  -v, --verbose       log every attempt to stderr (twice: debug, with headers)\n"
    "  -q, --quiet         only errors on stderr\n"
    "      --no-ext        load no extension files ($RUNCTL_PATH, ~/.config/runctl/ext, ...)\n"
    "      --follow-symlinks  write reports, journals and metrics through a symlink at\n"
    "                      their path (refused by default: it may be planted)\n"
    "  -h, --help          this text\n"
    "      --version       print the version\n"
    "\n"
    "runctl help lists the bundled scripts; runctl help NAME shows one's usage.\n"
    "\n"
    "The API key comes from $OPENAI_API_KEY (never from a flag: flags show in ps);\n"
    "the admin key the costs and usage need (spend, supervise budgets), from $OPENAI_ADMIN_KEY.\n"
    "Scripts see arg and ... as with the stock lua interpreter.\n";

static void usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "runctl: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry 'runctl --help'.\n");
    exit(2);
}

/* Splits "--name=value" or takes the next argument as the value. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc)
        usage_error("option %s needs a value", name);
    return argv[++*i];
}

static int matches(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The folders searched for bundled scripts, in order: $RUNCTL_SCRIPTS
 * (colon-separated), scripts/ beside the binary, ../share/runctl/scripts
 * beside it, and the install folder. Returns how many were written. */
static int script_dirs(char dirs[][PATH_MAX], int max)
{
    int n = 0;
    const char *env = getenv("RUNCTL_SCRIPTS");
    if (env != NULL) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", env);
        for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && n < max; d = strtok_r(NULL, ":", &save))
            snprintf(dirs[n++], PATH_MAX, "%s", d);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0 && n + 2 <= max) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(dirs[n++], PATH_MAX, "%.*s/scripts", PATH_MAX - 16, exe);
        snprintf(dirs[n++], PATH_MAX, "%.*s/../share/runctl/scripts", PATH_MAX - 32, exe);
    }
    if (n < max)
        snprintf(dirs[n++], PATH_MAX, "%s", RUNCTL_DATADIR "/scripts");
    return n;
}

/* Finds the bundled script NAME.lua; writes its path into out. */
static int find_bundled(const char *name, char *out, size_t outsz)
{
    char dirs[8][PATH_MAX];
    int n = script_dirs(dirs, 8);
    for (int i = 0; i < n; i++) {
        snprintf(out, outsz, "%.*s/%s.lua", PATH_MAX, dirs[i], name);
        if (file_exists(out))
            return 1;
    }
    return 0;
}

struct script_entry {
    char name[64];
    char summary[256];
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct script_entry *)a)->name, ((const struct script_entry *)b)->name);
}

/* `runctl help`: lists the bundled scripts, sorted, with the summary from
 * their first line ("-- scripts/NAME.lua — summary"); earlier folders win. */
static int list_scripts(void)
{
    char dirs[8][PATH_MAX];
    static struct script_entry found[64];
    int n = script_dirs(dirs, 8), count = 0;
    for (int i = 0; i < n; i++) {
        DIR *d = opendir(dirs[i]);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && count < 64) {
            size_t len = strlen(e->d_name);
            if (len < 5 || len > 60 || strcmp(e->d_name + len - 4, ".lua") != 0)
                continue;
            struct script_entry *entry = &found[count];
            snprintf(entry->name, sizeof entry->name, "%.*s", (int)(len - 4), e->d_name);
            int dup = 0;
            for (int k = 0; k < count; k++)
                dup |= strcmp(found[k].name, entry->name) == 0;
            if (dup)
                continue;
            char path[PATH_MAX + 300], line[512] = "";
            snprintf(path, sizeof path, "%.*s/%s", PATH_MAX, dirs[i], e->d_name);
            FILE *f = fopen(path, "r");
            if (f != NULL) {
                if (fgets(line, sizeof line, f) == NULL)
                    line[0] = '\0';
                fclose(f);
            }
            const char *summary = strstr(line, "\xe2\x80\x94 ");
            snprintf(entry->summary, sizeof entry->summary, "%s", summary ? summary + 4 : "");
            entry->summary[strcspn(entry->summary, "\r\n")] = '\0';
            count++;
        }
        closedir(d);
    }
    qsort(found, (size_t)count, sizeof found[0], by_name);
    printf("Bundled scripts (runctl help NAME, or runctl NAME --help, for each):\n");
    for (int k = 0; k < count; k++)
        printf("  %-22s %s\n", found[k].name, found[k].summary);
    return 0;
}

/* Ctrl-C, and SIGTERM and SIGHUP alike (timeout, systemd, a container stop,
 * a lost terminal or ssh session): the first one is the script's to handle
 * when it asked (runctl.interrupted(); rc_sigint_watched 2: quietly, it is its
 * way out): in-flight requests finish, the rest is skipped, the report
 * closed. The second, of any of the three, stops at once, saying a report
 * being written is incomplete (every line decided before it is written
 * already: each is flushed). A script that did not ask ends at the first,
 * as by default. (supervise takes SIGHUP and SIGTERM over: core.signals.) */
static void on_stop_signal(int sig)
{
    static const char on_int[] = "\nrunctl: interrupted: finishing requests in flight "
                                 "(press Ctrl-C again to stop at once)\n";
    static const char on_term[] = "\nrunctl: terminated (SIGTERM): finishing requests in flight "
                                  "(a second signal stops at once)\n";
    static const char on_hup[] = "\nrunctl: hangup (SIGHUP): finishing requests in flight "
                                 "(a second signal stops at once)\n";
    static const char stop[] = "\nrunctl: stopped at once: a report being written is "
                               "incomplete (it has no closing line)\n";
    rc_sigint_count++;
    if (!rc_sigint_watched || rc_sigint_count > 1) {
        if (rc_sigint_watched == 1 && write(STDERR_FILENO, stop, sizeof stop - 1) < 0)
            rc_sigint_count++;
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    const char *note = sig == SIGTERM ? on_term : sig == SIGHUP ? on_hup : on_int;
    if (rc_sigint_watched == 1 && write(STDERR_FILENO, note, strlen(note)) < 0)
        return;
}

static double parse_seconds(const char *s, const char *flag)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e9)
        usage_error("%s needs a positive number of seconds", flag);
    return v;
}

static int parse_count(const char *s, const char *flag)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1000)
        usage_error("%s needs a whole number from 0 to 1000", flag);
    return (int)v;
}

/* What the command line asks for. */
struct cli {
    runctl_options opts;
    const char *code;           /* -e CODE, or NULL */
    int script_index;           /* argv index of the script (or of CODE / "-") */
    int first_arg;              /* argv index of the script's first argument */
    int no_ext;                 /* --no-ext: load no extension files */
    int argc;
    char **argv;
};

/* `runctl help NAME`: prints the usage a script declares, without running it.
 * The declaration is the long string of its top-level `local USAGE = [[`
 * (what its own --help prints too); args.lua reads it as text and renders it
 * with the kinds known (extensions' included), so this runs that instead of
 * the script, with NAME's path as its argument. */
static const char help_code[] =
    "local text, why = require('runctl.ops.args').declared_usage(...)\n"
    "if not text then io.stderr:write('runctl: ', why, '\\n') os.exit(1) end\n"
    "io.stdout:write(text)\n";

static int help_for(struct cli *c, int name_index)
{
    static char path[PATH_MAX + 64];
    const char *name = c->argv[name_index];
    size_t n = strlen(name);
    int plain_name = strchr(name, '/') == NULL && !(n > 4 && strcmp(name + n - 4, ".lua") == 0);
    if (!(plain_name ? find_bundled(name, path, sizeof path) : file_exists(name))) {
        fprintf(stderr, "runctl: no script named %s (runctl help lists them)\n", name);
        return 2;
    }
    if (plain_name)
        c->argv[name_index] = path;
    c->code = help_code;
    c->script_index = name_index - 1;   /* arg[0] = "-e", arg[1] = the path */
    c->first_arg = name_index;
    c->argc = name_index + 1;
    return -1;
}

/* Reads one option at argv[*i] into c; returns 1 when it was -e (the options end). */
static int parse_option(struct cli *c, int *verbose, int *quiet, int *i)
{
    int argc = c->argc;
    char **argv = c->argv;
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        fputs(usage_text, stdout);
        exit(0);
    } else if (strcmp(a, "--version") == 0) {
        printf("runctl %s (%s)\n", RUNCTL_VERSION, LUA_RELEASE);
        exit(0);
    } else if (strcmp(a, "-e") == 0) {
        if (*i + 1 >= argc)
            usage_error("%s needs a piece of Lua code", "-e");
        c->code = argv[++*i];
        c->script_index = (*i)++;
        return 1;
    } else if (matches(a, "--base-url")) {
        c->opts.base_url = option_value(argc, argv, i, "--base-url");
    } else if (matches(a, "--org")) {
        c->opts.organization = option_value(argc, argv, i, "--org");
    } else if (matches(a, "--project")) {
        c->opts.project = option_value(argc, argv, i, "--project");
    } else if (matches(a, "--max-retries")) {
        c->opts.max_retries = parse_count(option_value(argc, argv, i, "--max-retries"), "--max-retries");
    } else if (matches(a, "--timeout")) {
        c->opts.timeout = parse_seconds(option_value(argc, argv, i, "--timeout"), "--timeout");
    } else if (strcmp(a, "--dry-run") == 0) {
        c->opts.dry_run = 1;
    } else if (strcmp(a, "--azure") == 0) {
        c->opts.azure = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
        ++*verbose;
    } else if (strcmp(a, "-vv") == 0) {
        *verbose += 2;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
        *quiet = 1;
    } else if (strcmp(a, "--follow-symlinks") == 0) {
        setenv("RUNCTL_FOLLOW_SYMLINKS", "1", 1);   /* read by runctl.outfile (l_outfile.c) */
    } else if (strcmp(a, "--no-ext") == 0) {
        c->no_ext = 1;
    } else {
        usage_error("unknown option '%s'", a);
    }
    return 0;
}

/* Fills c from the command line; exits for --help, --version and usage
 * errors. Returns -1, or an exit status when the work is already done
 * (`runctl help`, `runctl help NAME`: see print_declared_usage). */
static int parse_command_line(struct cli *c, int argc, char **argv)
{
    int verbose = 0, quiet = 0, i;
    memset(c, 0, sizeof *c);
    runctl_options_init(&c->opts);
    c->argc = argc;
    c->argv = argv;
    c->script_index = -1;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0 || parse_option(c, &verbose, &quiet, &i))
            break;
    }
    if (c->script_index < 0) {
        if (i >= argc) {
            fputs(usage_text, stderr);
            return 2;
        }
        c->script_index = i++;
    }
    c->first_arg = i;
    if (c->code == NULL && strcmp(argv[c->script_index], "help") == 0) {
        if (i >= argc)
            return list_scripts();
        if (help_for(c, i) >= 0)
            return 2;
    }
    if (quiet)
        c->opts.log_level = -1;
    else if (verbose > 0)
        c->opts.log_level = verbose > 1 ? 2 : 1;
    return -1;
}

/* Pushes the script's chunk: -e CODE, stdin, a file, or a bundled script by
 * name. Returns 0, or an exit status with the reason written to stderr. */
static int load_script(lua_State *L, const struct cli *c)
{
    const char *script = c->argv[c->script_index];
    char found[PATH_MAX + 64];
    int status;
    if (c->code != NULL) {
        status = luaL_loadbufferx(L, c->code, strlen(c->code), "=(command line)", "t");
    } else if (strcmp(script, "-") == 0) {
        status = luaL_loadfilex(L, NULL, "t");
    } else {
        const char *path = script;
        size_t n = strlen(script);
        int plain_name = strchr(script, '/') == NULL && !(n > 4 && strcmp(script + n - 4, ".lua") == 0);
        if (plain_name && find_bundled(script, found, sizeof found))
            path = found;
        else if (!file_exists(script)) {
            fprintf(stderr, "runctl: cannot open %s: %s%s\n", script, strerror(errno),
                    plain_name ? " (and no bundled script has that name)" : "");
            return 2;
        }
        status = luaL_loadfilex(L, path, "t");
    }
    if (status != LUA_OK) {
        rc_host_print_error("", lua_tostring(L, -1));
        return 1;
    }
    return 0;
}

/* Sets the global arg (arg[0] the script, arg[1..] its arguments, negatives
 * the rest) and pushes the arguments; returns their count. */
static int push_arguments(lua_State *L, const struct cli *c)
{
    int nargs = c->argc - c->first_arg;
    lua_createtable(L, nargs, c->script_index + 1);
    for (int k = 0; k < c->argc; k++) {
        lua_pushstring(L, c->argv[k]);
        lua_rawseti(L, -2, k - c->script_index);
    }
    if (c->code != NULL) {      /* arg[0] = "-e"; CODE is not an argument */
        lua_pushliteral(L, "-e");
        lua_rawseti(L, -2, 0);
    }
    lua_setglobal(L, "arg");
    luaL_checkstack(L, nargs + 4, "too many arguments");
    for (int k = c->first_arg; k < c->argc; k++)
        lua_pushstring(L, c->argv[k]);
    return nargs;
}

/* Runs the loop until nothing is left; returns the exit status: 1 when the
 * loop failed, tasks deadlocked, the main task (at idx) or any unjoined task failed. */
static int run_to_end(lua_State *L, rc_host *h, int main_task)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: the poll returns at once */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT); /* one at a time: the count decides first or second */
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    int exit_code = 0, pending;
    while ((pending = runctl_poll(L, -1)) > 0)
        ;
    if (pending < 0)
        exit_code = 1;
    if (rc_host_tasks_alive(h) > 0) {
        fprintf(stderr, "runctl: %d task(s) wait for each other and can never finish (deadlock)\n",
                rc_host_tasks_alive(h));
        exit_code = 1;
    }
    if (rc_host_claim_failure(L, main_task)) {
        rc_host_print_error("", lua_tostring(L, -1));
        lua_pop(L, 1);
        exit_code = 1;
    }
    if (rc_host_report_unjoined(L) > 0)
        exit_code = 1;
    return exit_code;
}

/* The command inside a protected call (as Lua's own lua.c): anything that
 * raises (out of memory, too many arguments) ends with a message, not a
 * panic. Pushes the exit status. */
static int pmain(lua_State *L)
{
    const struct cli *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    luaL_openlibs(L);
    if (runctl_openlibs(L, &c->opts) != 0)
        return lua_error(L);
    if (!c->no_ext && runctl_load_extensions(L) != 0) {     /* before any work: exit 2 */
        fprintf(stderr, "runctl: extension: %s\n(runctl --no-ext runs without extensions)\n",
                lua_tostring(L, -1));
        lua_pushinteger(L, 2);
        return 1;
    }
    int status = load_script(L, c);
    if (status != 0) {
        lua_pushinteger(L, status);
        return 1;
    }
    rc_host_spawn(L, rc_host_get(L), push_arguments(L, c));
    lua_pushinteger(L, run_to_end(L, rc_host_get(L), lua_gettop(L)));
    return 1;
}

/* Standard descriptors closed at start (`runctl ... >&-`) are opened on
 * /dev/null, so no socket or file opened later takes their number (report
 * lines would vanish into a curl socket). */
static void open_standard_descriptors(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (null >= 0 && null != fd) {  /* the lowest free number is fd itself */
                dup2(null, fd);
                close(null);
            }
        }
    }
}

/* At exit (os.exit too): output that could not be written (a full disk,
 * /dev/full, a closed pipe) is an error, said once, with exit status 1. */
static void check_stdout_at_exit(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "runctl: cannot write to standard output: %s\n",
                errno != 0 ? strerror(errno) : "write error");
        _exit(1);
    }
}

int main(int argc, char **argv)
{
    struct cli c;
    open_standard_descriptors();
    atexit(check_stdout_at_exit);
    int status = parse_command_line(&c, argc, argv);
    if (status >= 0)
        return status;
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "runctl: cannot create a Lua state (out of memory)\n");
        return 1;
    }
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        rc_host_print_error("", msg);
        status = 1;
    } else {
        status = (int)lua_tointeger(L, -1);
    }
    lua_close(L);
    return status;
}
