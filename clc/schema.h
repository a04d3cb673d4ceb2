/*
 * schema.h - the migrations of clc.db (clc/schema.c), applied by oc_db_open.
 */
#ifndef CLC_SCHEMA_H
#define CLC_SCHEMA_H

#include <stddef.h>
#include "common/db.h"

const struct oc_migration *clc_schema(size_t *n);

#endif
