# packaging/runctl.bash - bash completion for runctl: its options, the bundled
# scripts' names, each script's flags, the values a flag lists (--kind
# runs|batches|fine-tuning) and a script's first argument as its usage line
# names it (the kinds after list, .lua files after supervise). Everything is read at completion time from what
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
    elif ! _runctl_has_positional "$i"; then
        _runctl_first "$cmd" "$script"
    fi
    return 0
}

# _runctl_has_positional I: whether a word after the script (at I) and
# before the one being completed is an argument (not a flag or its value).
_runctl_has_positional() {
    local j w
    for ((j = $1 + 1; j < COMP_CWORD; j++)); do
        w=${COMP_WORDS[j]}
        case $w in
            -*) [[ $w != *=* && -n ${_args[$w]} && ${_args[$w]} != \[* ]] && ((j++)) ;;
            *) return 0 ;;
        esac
    done
    return 1
}

# _runctl_first CMD SCRIPT: completes a script's first argument as its usage
# line names it: "runs|batches|..." offers those (runctl list), "POLICY.lua"
# offers .lua files (runctl supervise).
_runctl_first() {
    local word first=""
    for word in $("$1" help "$2" 2>/dev/null | sed -n '1s/^usage: runctl [^ ]* //p'); do
        case $word in
            \[*|-*) ;;
            *) first=$word; break ;;
        esac
    done
    case $first in
        *'|'*) COMPREPLY=($(compgen -W "${first//|/ }" -- "$cur")) ;;
        *.lua) compopt -o filenames 2>/dev/null
               COMPREPLY=($(compgen -f -X '!*.lua' -- "$cur") $(compgen -d -- "$cur")) ;;
    esac
}
complete -F _runctl runctl
