# Draws bench/results.png from the data files report.py writes: requests/s
# per contender on top (bars: medians; whiskers: slowest and fastest round),
# bulk MB/s (whiskers: quartiles of the downloads) and memory per connection
# (dashed: the budgets) below. Requests/s and memory use a logarithmic scale:
# their bars differ by ten times and more (squid, tinyproxy; nginx's 10 KiB
# partial heads against warpd's budget of 512 B idle). Called as
# gnuplot -e "dir='...'; out='...'; ttl='...'; hasrps=1; hasbulk=1; hasmem=1" results.gp
set terminal pngcairo size 1400,1000 font "sans,11"
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
    set origin 0, 0.45
    set size 1, 0.52
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
    set origin 0, 0
    set size 0.5, 0.45
    unset rmargin
    set title "64 MiB download, MB/s (median, whiskers: quartiles)"
    set xtics norotate noenhanced
    plot dir."/bulk.dat" using 0:3:2:xtic(1) with boxes lc rgb variable, \
         "" using 0:3:4:5 with yerrorbars lc rgb "black" pt 7 ps 0.3, \
         "" using 0:5:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9"
}
if (hasmem) {
    set origin 0.5, 0
    set size 0.5, 0.45
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
unset multiplot
