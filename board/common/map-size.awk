# Sums, from a GNU ld map file (-Wl,-Map=...), the input sections one object contributed to the
# linked image, after --gc-sections, as arm-none-eabi-size would count them.
#   awk -v object=DeviceCore.o -f map-size.awk program.map
# Prints "text data bss" in bytes. Only the "Linker script and memory map" part is read (the
# "Discarded input sections" list before it is what --gc-sections removed). An input section
# counts when its line (or the line after its name) ends in the object's file name.
function hex(s,    i, c, v) {
    v = 0
    s = tolower(s)
    sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) {
        c = index("0123456789abcdef", substr(s, i, 1))
        v = v * 16 + c - 1
    }
    return v
}
/^Linker script and memory map/ { inmap = 1; next }
!inmap { next }
# An output section starts in column 0: ".text  0x... 0x...", or a lone ".name" line.
/^\.[^ ]/ { out = $1; next }
/^[^ ]/ { out = ""; next }
{
    n = NF
    if (n < 3) next
    file = $n
    if (file != object && substr(file, length(file) - length(object)) != "/" object) next
    if ($(n - 1) !~ /^0x/ || $(n - 2) !~ /^0x/) next
    size = hex($(n - 1))
    if (out ~ /^\.(debug|comment|ARM\.attributes|gnu\.attributes|stab)/ || out == "") next
    if (out ~ /^\.(bss|tbss|noinit)/) bss += size
    else if (out ~ /^\.(data|tdata)/) data += size
    else text += size
}
END { printf "%d %d %d\n", text, data, bss }
