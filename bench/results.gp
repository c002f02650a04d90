# Draws bench/results.png from the data files report.py writes: requests/s
# per contender on top (bars: medians; whiskers: slowest and fastest round),
# bulk MB/s (whiskers: quartiles of the downloads) and memory per connection
# (dashed: the budgets) below, and, when the shape part ran, time to first
# byte per shaping strategy at the bottom. Requests/s, memory and time to
# first byte use a logarithmic scale: their bars differ by ten times and more
# (squid, tinyproxy; nginx's 10 KiB partial heads against warpd's budget of
# 512 B idle; warp's pauses of a second and more against a tenth of a
# millisecond). Called as
# gnuplot -e "dir='...'; out='...'; ttl='...'; hasrps=1; hasbulk=1; hasmem=1; hasttfb=1" results.gp
if (!exists("hasttfb")) hasttfb = 0
# The time-to-first-byte panel adds 400 pixels below the others, which keep
# their height: u is the height of the first 1000 pixels, b the panel's.
H = hasttfb ? 1400.0 : 1000.0
u = 1000.0 / H
b = 1 - u
set terminal pngcairo size 1400,H font "sans,11"
set output out
set multiplot title ttl font "sans,13"
set style fill solid 0.85 border -1
set boxwidth 0.7
set grid ytics
set key off
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set format y "%.0f"

if (hasrps) {
    set origin 0, b + 0.45 * u
    set size 1, 0.52 * u
    set title "requests/s, GET /small, wrk -t1 -c50 (-c100: -t2 -c100); blue = warpd; bars: median, whiskers: slowest and fastest round"
    set xtics rotate by -25 noenhanced
    set rmargin 12  # room for the last rotated label
    set logscale y
    set yrange [1000:500000]  # the origin, direct, stays below; its label fits
    plot dir."/rps.dat" using 0:3:2:xtic(1) with boxes lc rgb variable, \
         "" using 0:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.3, \
         "" using 0:5:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9"
}
if (hasbulk) {
    unset logscale y
    set yrange [0:*]
    set origin 0, b
    set size 0.5, 0.45 * u
    unset rmargin
    set title "64 MiB download, MB/s (median, whiskers: quartiles; blue: through warpd)"
    set xtics norotate noenhanced
    plot dir."/bulk.dat" using 0:3:2:xtic(1) with boxes lc rgb variable, \
         "" using 0:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.3, \
         "" using 0:5:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9"
}
if (hasmem) {
    set origin 0.5, b
    set size 0.5, 0.45 * u
    set title "RSS per held connection, bytes (10 000 connections, log scale); dashed: budgets"
    set xtics norotate noenhanced
    set key top left
    set style histogram clustered gap 1
    set style data histograms
    set boxwidth 0.9
    set logscale y
    set yrange [100:30000]
    set arrow 1 from graph 0, first 512 to graph 1, first 512 nohead dt 2 lc rgb "0x1f77b4"
    set arrow 2 from graph 0, first 1536 to graph 1, first 1536 nohead dt 2 lc rgb "0xff7f0e"
    plot dir."/mem.dat" using 2:xtic(1) title "idle" lc rgb "0x1f77b4", \
         "" using 3 title "half a request head" lc rgb "0xff7f0e"
}
if (hasttfb) {
    unset arrow
    set style data boxes
    set origin 0, 0
    set size 1, b
    set title "time to first byte on a new connection through warpd forward, ms (log scale): bars p50, whiskers to p90; blue: HTTP request, orange: TLS ClientHello through CONNECT"
    set xtics norotate noenhanced
    set key off
    set boxwidth 0.38
    set logscale y
    set yrange [0.01:20000]
    set format y "%g"
    set datafile missing "NaN"
    plot dir."/ttfb.dat" using ($0 - 0.2):2:xtic(1) with boxes lc rgb "0x1f77b4", \
         "" using ($0 - 0.2):2:2:3 with yerrorbars lc rgb "black" pt 7 ps 0.3, \
         "" using ($0 - 0.2):3:(sprintf($2 < 10 ? "%.3g" : "%.0f", $2)) with labels offset 0,0.7 font "sans,8", \
         "" using ($0 + 0.2):4 with boxes lc rgb "0xff7f0e", \
         "" using ($0 + 0.2):4:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.3, \
         "" using ($0 + 0.2):5:(sprintf($4 < 10 ? "%.3g" : "%.0f", $4)) with labels offset 0,0.7 font "sans,8"
}
unset multiplot
