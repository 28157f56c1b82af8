# Turns db/schema.sql into a C string (ow_schema_sql) at build time.
file(READ ${IN} SQL)
string(REPLACE "\\" "\\\\" SQL "${SQL}")
string(REPLACE "\"" "\\\"" SQL "${SQL}")
string(REPLACE "\n" "\\n\"\n\"" SQL "${SQL}")
file(WRITE ${OUT} "/* generated from db/schema.sql; do not edit */\nconst char ow_schema_sql[] = \"${SQL}\";\n")
