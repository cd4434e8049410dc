/* lua/main.c — the runctl command: flags, loading the script (file, bundled
 * name, -e or stdin), running it as the main task, exit status. */
#include "host.h"

#include <errno.h>
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
    "  -h, --help          this text\n"
    "      --version       print the version\n"
    "\n"
    "runctl help lists the bundled scripts; runctl help NAME shows one's usage.\n"
    "\n"
    "The API key comes from $OPENAI_API_KEY (never from a flag: flags show in ps).\n"
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

static void on_sigint(int sig)
{
    static const char note[] = "\nrunctl: interrupted: finishing requests in flight "
                               "(press Ctrl-C again to stop at once)\n";
    rc_sigint_count++;
    if (!rc_sigint_watched || rc_sigint_count > 1) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    if (write(STDERR_FILENO, note, sizeof note - 1) < 0)
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

int main(int argc, char **argv)
{
    runctl_options opts;
    runctl_options_init(&opts);
    int verbose = 0, quiet = 0, no_ext = 0;
    const char *code = NULL;
    int script_index = -1;      /* argv index of the script (or of CODE / "-") */
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("runctl %s (%s)\n", RUNCTL_VERSION, LUA_RELEASE);
            return 0;
        } else if (strcmp(a, "-e") == 0) {
            if (i + 1 >= argc)
                usage_error("%s needs a piece of Lua code", "-e");
            code = argv[++i];
            script_index = i;
            i++;
            break;
        } else if (matches(a, "--base-url")) {
            opts.base_url = option_value(argc, argv, &i, "--base-url");
        } else if (matches(a, "--org")) {
            opts.organization = option_value(argc, argv, &i, "--org");
        } else if (matches(a, "--project")) {
            opts.project = option_value(argc, argv, &i, "--project");
        } else if (matches(a, "--max-retries")) {
            opts.max_retries = parse_count(option_value(argc, argv, &i, "--max-retries"), "--max-retries");
        } else if (matches(a, "--timeout")) {
            opts.timeout = parse_seconds(option_value(argc, argv, &i, "--timeout"), "--timeout");
        } else if (strcmp(a, "--dry-run") == 0) {
            opts.dry_run = 1;
        } else if (strcmp(a, "--azure") == 0) {
            opts.azure = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            verbose += 2;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--no-ext") == 0) {
            no_ext = 1;
        } else {
            usage_error("unknown option '%s'", a);
        }
    }
    if (script_index < 0) {
        if (i >= argc) {
            fputs(usage_text, stderr);
            return 2;
        }
        script_index = i++;
    }
    if (code == NULL && strcmp(argv[script_index], "help") == 0) {
        if (i >= argc)
            return list_scripts();
        /* runctl help NAME == runctl NAME --help */
        static char help_flag[] = "--help";
        static char *help_argv[4];
        help_argv[0] = argv[0];
        help_argv[1] = argv[i];
        help_argv[2] = help_flag;
        argv = help_argv;
        argc = 3;
        script_index = 1;
        i = 2;
    }
    if (quiet)
        opts.log_level = -1;
    else if (verbose > 0)
        opts.log_level = verbose > 1 ? 2 : 1;

    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "runctl: cannot create a Lua state (out of memory)\n");
        return 1;
    }
    luaL_openlibs(L);
    if (runctl_openlibs(L, &opts) != 0) {
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    if (!no_ext && runctl_load_extensions(L) != 0) {      /* before any work: exit 2 */
        fprintf(stderr, "runctl: extension: %s\n(runctl --no-ext runs without extensions)\n",
                lua_tostring(L, -1));
        lua_close(L);
        return 2;
    }

    /* arg: arg[0] the script, arg[1..] its arguments, negatives the rest. */
    const char *script = code != NULL ? "-e" : argv[script_index];
    char found[PATH_MAX + 64];
    int status;
    if (code != NULL) {
        status = luaL_loadbufferx(L, code, strlen(code), "=(command line)", "t");
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
            lua_close(L);
            return 2;
        }
        status = luaL_loadfilex(L, path, "t");
    }
    if (status != LUA_OK) {
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }

    int nargs = argc - i;
    lua_createtable(L, nargs, script_index + 1);
    for (int k = 0; k < argc; k++) {
        lua_pushstring(L, argv[k]);
        lua_rawseti(L, -2, k - script_index);
    }
    if (code != NULL) {         /* arg[0] = "-e"; CODE is not an argument */
        lua_pushliteral(L, "-e");
        lua_rawseti(L, -2, 0);
    }
    lua_setglobal(L, "arg");
    luaL_checkstack(L, nargs + 4, "too many arguments");
    for (int k = i; k < argc; k++)
        lua_pushstring(L, argv[k]);

    rc_host *h = rc_host_get(L);
    rc_task *main_task = rc_host_spawn(L, h, nargs);
    lua_setfield(L, LUA_REGISTRYINDEX, "runctl.main");
    (void)main_task;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;      /* no SA_RESTART: the poll returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    int exit_code = 0;
    int pending;
    while ((pending = runctl_poll(L, -1)) > 0)
        ;
    if (pending < 0)
        exit_code = 1;
    if (h->tasks_alive > 0) {
        fprintf(stderr, "runctl: %d task(s) wait for each other and can never finish (deadlock)\n",
                h->tasks_alive);
        exit_code = 1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "runctl.main");
    rc_task *t = lua_touserdata(L, -1);
    if (t->state == TASK_DONE && !t->ok) {
        lua_getiuservalue(L, -1, 2);
        lua_getfield(L, -1, "traceback");
        fprintf(stderr, "runctl: %s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
        t->joined = 1;
        lua_getfield(L, LUA_REGISTRYINDEX, "runctl.unjoined");
        lua_pushvalue(L, -2);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        exit_code = 1;
    }
    lua_pop(L, 1);
    if (rc_host_report_unjoined(L) > 0)
        exit_code = 1;
    lua_close(L);
    return exit_code;
}
