/*
 * libFuzzer target: the node's instance record (nc/domain.c), read back
 * from instance.xml files and libvirt domain metadata after a restart.
 * Beyond memory safety, every record the parser accepts must pass the
 * validator, turn into domain XML, and write out and read back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xml.h"
#include "nc/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    struct nc_instance rec, back;
    struct nc_domain_spec s = { 0 };
    struct oc_buf out = { 0 };
    struct oc_err err = { 0 };

    if (!init) {
        oc_xml_init();
        init = 1;
    }
    if (nc_record_parse((const char *)data, size, &rec, &err) != OC_OK)
        return 0;
    if (nc_instance_check(&rec, &err) != OC_OK)
        abort();
    if (nc_record_xml(&rec, &out, &err) != OC_OK ||
        nc_record_parse((const char *)out.data, out.len, &back, &err) != OC_OK ||
        memcmp(&rec, &back, sizeof(rec)) != 0)
        abort();
    oc_buf_free(&out);
    s.inst = &rec;
    s.hypervisor = "qemu";
    s.root_path = "/nc/instances/x/root.qcow2";
    s.console_path = "/nc/instances/x/console.log";
    s.kernel_path = rec.kernel.id[0] ? "/nc/cache/k" : NULL;
    s.ramdisk_path = rec.ramdisk.id[0] ? "/nc/cache/r" : NULL;
    if (nc_domain_xml(&s, &out, &err) != OC_OK)
        abort();
    oc_buf_free(&out);
    return 0;
}
