# packaging/runctl.bash - bash completion for runctl: its options, the bundled
# scripts' names, each script's flags and the values a flag lists (--kind
# runs|batches|fine-tuning). Everything is read at completion time from what
# the command prints (`runctl --help`, `runctl help`, `runctl help NAME`), so
# it always matches the runctl being completed. Installed as
# share/bash-completion/completions/runctl.

# _runctl_options CMD ARGS...: reads the option lines of `CMD ARGS...` into
# the caller's _flags (every flag) and _args (flag -> its argument, if any).
# An option line is "  -x, --name ARG   description" (indented at most 6).
_runctl_options() {
    local line spec word arg flags
    while IFS= read -r line; do
        [[ $line =~ ^\ {1,6}- ]] || continue
        spec=${line#"${line%%[! ]*}"}
        spec=${spec%%  *}
        arg="" flags=()
        for word in $spec; do
            case $word in
                -*) flags+=("${word%,}") ;;
                *) arg=$word ;;
            esac
        done
        for word in "${flags[@]}"; do
            _flags+=("$word")
            _args[$word]=$arg
        done
    done < <("$@" 2>/dev/null)
}

# _runctl_value ARG: completes the value of a flag whose argument is ARG:
# "a|b|c" offers a, b and c (not a placeholder such as DURATION in
# "today|month|DURATION"); FILE offers files; anything else nothing.
_runctl_value() {
    local cur=${COMP_WORDS[COMP_CWORD]} w words=()
    case $1 in
        *FILE*) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")) ;;
        *'|'*)
            for w in ${1//|/ }; do [[ $w == *[a-z0-9]* ]] && words+=("$w"); done
            COMPREPLY=($(compgen -W "${words[*]}" -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}

_runctl() {
    local cmd=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=""
    local -a _flags=()
    local -A _args=()
    local i script=""
    COMPREPLY=()
    [[ $COMP_CWORD -gt 0 ]] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    _runctl_options "$cmd" --help
    # The script is the first word that is not an option or an option's value.
    for ((i = 1; i < COMP_CWORD; i++)); do
        local w=${COMP_WORDS[i]}
        case $w in
            -e|-) script=$w; break ;;
            -*) [[ $w != *=* && -n ${_args[$w]} ]] && ((i++)) ;;
            *) script=$w; break ;;
        esac
    done
    if [[ -z $script ]]; then
        if [[ -n ${_args[$prev]} && $prev == -* ]]; then
            _runctl_value "${_args[$prev]}"
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "${_flags[*]}" -- "$cur"))
        else
            local names
            names=$("$cmd" help 2>/dev/null | sed -n 's/^  \([^ ][^ ]*\)  .*/\1/p')
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -W "help $names" -- "$cur") $(compgen -f -X '!*.lua' -- "$cur") $(compgen -d -- "$cur"))
        fi
        return 0
    fi
    if [[ $script == help ]]; then
        [[ $prev == help ]] && COMPREPLY=($(compgen -W "$("$cmd" help 2>/dev/null | sed -n 's/^  \([^ ][^ ]*\)  .*/\1/p')" -- "$cur"))
        return 0
    fi
    # A bundled script: its own flags, from its usage.
    [[ $script == */* || $script == *.lua || $script == -* ]] && return 0
    _flags=() _args=()
    _runctl_options "$cmd" help "$script"
    if [[ -n ${_args[$prev]} && ${_args[$prev]} != \[* ]]; then
        _runctl_value "${_args[$prev]}"
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${_flags[*]}" -- "$cur"))
    fi
    return 0
}
complete -F _runctl runctl
