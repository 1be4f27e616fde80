# Shared by make.sh and fleet.sh: poll a tmux pane until it shows what is
# wanted, press keys, and photograph the pane as a PNG (aha + headless
# Chromium). Sourced, not run: the caller defines $dir (a scratch
# directory), $out (where PNGs go), tm (tmux on its private server, with a
# session named `shots`), say and die.
# shellcheck shell=sh
# wait_for WHAT PATTERN... — polls the screen (every 50 ms, up to 20 s) until
# every extended regular expression PATTERN matches some line of it and the
# frame is complete: two captures in a row are the same (the console may be
# caught half-way through drawing a frame). The capture stays in
# $dir/screen.ansi (with colours) and $dir/screen.txt (text) for `shot`.
esc=$(printf '\033')
wait_for() {
    what=$1
    shift
    tries=0
    : >"$dir/screen.ansi"
    while :; do
        mv "$dir/screen.ansi" "$dir/previous.ansi"
        tm capture-pane -e -p -t shots >"$dir/screen.ansi"
        sed "s/$esc\[[0-9;:]*m//g" "$dir/screen.ansi" >"$dir/screen.txt"
        missed=
        for pattern in "$@"; do
            grep -Eq -- "$pattern" "$dir/screen.txt" || { missed=$pattern; break; }
        done
        if [ -z "$missed" ]; then
            cmp -s "$dir/screen.ansi" "$dir/previous.ansi" && return 0
            missed="(a frame still being drawn)"
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 400 ]; then
            say "timed out waiting for $what; no line matches $missed; the screen:"
            cat "$dir/screen.txt" >&2
            exit 1
        fi
        sleep 0.05
    done
}

# keys KEY... — one tmux key (Escape must travel alone: tmux turns Escape
# followed at once by another key into Alt+key).
keys() { tm send-keys -t shots "$@"; }

# aha (0.5.1) loses track of colours when 256-colour indices meet reverse
# video or a later background change (grey text turns black, a reversed
# row takes wrong colours). So the captured escape sequences are first
# rewritten by this awk program: before each run of text, a reset, then
# that run's resolved colours as 24-bit values, reverse video already
# applied and the 16 base colours taken from this palette (One Dark-like;
# index 8 darker as a background than as text, as many terminal themes do).
normalize='
function hex2rgb(h) {
    return sprintf("%d;%d;%d", hexval(substr(h, 2, 2)), hexval(substr(h, 4, 2)), hexval(substr(h, 6, 2)))
}
function hexval(s,    i, v) {
    v = 0
    for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(tolower(s), i, 1)) - 1
    return v
}
function rgb(spec, isbg,    n, r, g, b, lv) {
    if (spec == "") return isbg ? DEFBG : DEFFG
    if (spec ~ /^rgb:/) return substr(spec, 5)
    n = substr(spec, 3) + 0
    if (n == 8 && isbg) return BG8
    if (n < 16) return PAL[n]
    if (n < 232) {
        n -= 16
        split("0 95 135 175 215 255", lv, " ")
        r = lv[int(n / 36) + 1]; g = lv[int(n / 6) % 6 + 1]; b = lv[n % 6 + 1]
        return r ";" g ";" b
    }
    n = 8 + 10 * (n - 232)
    return n ";" n ";" n
}
function blend(c, d,    x, y) {
    split(c, x, ";"); split(d, y, ";")
    return int((x[1] + y[1]) / 2) ";" int((x[2] + y[2]) / 2) ";" int((x[3] + y[3]) / 2)
}
function reset() { fg = ""; bg = ""; bold = 0; dim = 0; ital = 0; und = 0; rev = 0 }
function sgr(params,    p, n, i, v) {
    if (params == "") params = "0"
    n = split(params, p, ";")
    for (i = 1; i <= n; i++) {
        v = p[i] + 0
        if (v == 0) reset()
        else if (v == 1) bold = 1
        else if (v == 2) dim = 1
        else if (v == 3) ital = 1
        else if (v == 4) und = 1
        else if (v == 7) rev = 1
        else if (v == 22) { bold = 0; dim = 0 }
        else if (v == 23) ital = 0
        else if (v == 24) und = 0
        else if (v == 27) rev = 0
        else if (v >= 30 && v <= 37) fg = "p:" (v - 30)
        else if (v >= 90 && v <= 97) fg = "p:" (v - 82)
        else if (v >= 40 && v <= 47) bg = "p:" (v - 40)
        else if (v >= 100 && v <= 107) bg = "p:" (v - 92)
        else if (v == 39) fg = ""
        else if (v == 49) bg = ""
        else if ((v == 38 || v == 48) && p[i + 1] == 5) {
            if (v == 38) fg = "p:" (p[i + 2] + 0); else bg = "p:" (p[i + 2] + 0)
            i += 2
        } else if ((v == 38 || v == 48) && p[i + 1] == 2) {
            if (v == 38) fg = "rgb:" (p[i + 2] + 0) ";" (p[i + 3] + 0) ";" (p[i + 4] + 0)
            else bg = "rgb:" (p[i + 2] + 0) ";" (p[i + 3] + 0) ";" (p[i + 4] + 0)
            i += 4
        }
    }
}
function style(    f, b, t, out) {
    f = rgb(fg, 0); b = rgb(bg, 1)
    if (rev) { t = f; f = b; b = t; if (bg == "") f = DEFBG; if (fg == "") b = DEFFG }
    if (dim) f = blend(f, b)
    out = ESC "[0m"
    if (bold) out = out ESC "[1m"
    if (ital) out = out ESC "[3m"
    if (und) out = out ESC "[4m"
    out = out ESC "[38;2;" f "m"
    if (b != DEFBG) out = out ESC "[48;2;" b "m"
    return out
}
BEGIN {
    ESC = "\033"
    split("#1b1e24 #e06c75 #98c379 #e5c07b #61afef #c678dd #56b6c2 #abb2bf " \
          "#7f848e #ff7a85 #b5e890 #ffd58f #82c4ff #de95f5 #79d4e0 #ffffff", h, " ")
    for (i = 0; i < 16; i++) PAL[i] = hex2rgb(h[i + 1])
    DEFFG = hex2rgb("#d7dae0"); DEFBG = hex2rgb("#1b1e24"); BG8 = hex2rgb("#454b58")
    reset()
}
{
    line = $0; out = ""; cur = ""
    while ((at = index(line, ESC "[")) > 0) {
        text = substr(line, 1, at - 1)
        if (text != "") { s = style(); if (s != cur) { out = out s; cur = s }; out = out text }
        line = substr(line, at + 2)
        for (e = 1; e <= length(line) && substr(line, e, 1) !~ /[@-~]/; e++) ;
        if (substr(line, e, 1) == "m") sgr(substr(line, 1, e - 1))
        line = substr(line, e + 1)
    }
    if (line != "") { s = style(); if (s != cur) { out = out s; cur = s }; out = out line }
    print out ESC "[0m"
}
'

# page ANSI-FILE — a full HTML page: the terminal's cells in a monospace
# font on the dark background, the spans made by aha.
page() {
    cat <<'EOF'
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>isinit-tui</title>
<style>
html, body { margin: 0; padding: 0; background: #1b1e24; }
pre {
    display: inline-block; margin: 0; padding: 12px 14px;
    font-family: "DejaVu Sans Mono", monospace; font-size: 14px; line-height: normal;
    color: #d7dae0; background: #1b1e24; font-variant-ligatures: none;
}
</style>
</head>
<body>
EOF
    printf '<pre>'
    awk "$normalize" "$1" | aha --black --no-header
    cat <<'EOF'
</pre>
<script>
  // For the measuring pass: the size of the terminal, in CSS pixels.
  var r = document.querySelector("pre").getBoundingClientRect();
  document.title = Math.ceil(r.width) + "x" + Math.ceil(r.height);
</script>
</body>
</html>
EOF
}

chrome() {
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --no-first-run --hide-scrollbars \
        --user-data-dir="$dir/chromium" --force-device-scale-factor=1 "$@" 2>/dev/null
}

size=
# shot NAME — the screen wait_for saw last, into screenshots/NAME.png.
shot() {
    page "$dir/screen.ansi" >"$dir/$1.html"
    if [ -z "$size" ]; then
        # Measure once: every screen is the same 120x36 cells.
        size=$(chrome --dump-dom "file://$dir/$1.html" | sed -n 's|.*<title>\([0-9]*x[0-9]*\)</title>.*|\1|p')
        case $size in *x*) ;; *) die "could not measure the page (got '$size')" ;; esac
        say "terminal measures $size px"
    fi
    rm -f "$out/$1.png"
    chrome --window-size="${size%x*},${size#*x}" --screenshot="$out/$1.png" "file://$dir/$1.html" >/dev/null
    [ -s "$out/$1.png" ] || die "chromium wrote no $out/$1.png"
    say "wrote screenshots/$1.png"
}

