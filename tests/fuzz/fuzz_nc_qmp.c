/*
 * libFuzzer target: QMP lines as QEMU sends them (nc/qmp.c), read by the
 * node from template and fork QEMUs.  Beyond memory safety, a parsed
 * message must be self-consistent: an error has a class, an event a name,
 * a return a value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nc/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nc_qmp_msg m;
    struct oc_err err = { 0 };

    if (nc_qmp_parse((const char *)data, size, &m, &err) != OC_OK) {
        if (!err.msg[0])
            abort();   /* a refusal always says why */
        return 0;
    }
    switch (m.kind) {
    case NC_QMP_RETURN:
        if (!m.value)
            abort();
        break;
    case NC_QMP_ERROR:
        if (!m.name[0])
            abort();
        break;
    case NC_QMP_EVENT:
        if (!m.name[0] || strlen(m.name) >= sizeof(m.name))
            abort();
        break;
    case NC_QMP_GREETING:
        if (!json_is_object(m.value))
            abort();
        break;
    }
    nc_qmp_msg_free(&m);
    return 0;
}
