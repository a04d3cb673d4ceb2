/*
 * test_nc.c - the node controller's logic: domain XML, the instance
 * record, validation, hypervisor choice, and the lifecycle of instances
 * driven through libvirt's test driver (test:///default) with a real image
 * cache, a fetcher that serves bytes from memory, and real qemu-img.
 * Real VMs are booted by tests/integration/test_nc.py.
 */
#include <errno.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/xml.h"
#include "nc/api.h"
#include "nc/qmp.h"
#include "nc/domain.h"
#include "nc/hyp.h"
#include "nc/node.h"
#include "nc/mc_int.h"
#include "tests/unit/harness.h"

static void sample(struct nc_instance *i)
{
    memset(i, 0, sizeof(*i));
    snprintf(i->id, sizeof(i->id), "i-0123456789abcdef0");
    snprintf(i->reservation_id, sizeof(i->reservation_id), "r-00000000000000001");
    snprintf(i->owner_id, sizeof(i->owner_id), "123456789012");
    snprintf(i->instance_type, sizeof(i->instance_type), "t2.micro");
    i->vcpus = 1;
    i->mem_mb = 256;
    i->disk_gb = 1;
    snprintf(i->image.id, sizeof(i->image.id), "emi-0000000000000000a");
    snprintf(i->image.location, sizeof(i->image.location), "images/disk.img");
    snprintf(i->image.digest, sizeof(i->image.digest), "0123456789abcdef0123456789abcdef");
    snprintf(i->mac, sizeof(i->mac), "d0:0d:12:34:56:78");
    snprintf(i->bridge, sizeof(i->bridge), "br0");
    i->state = NC_RUNNING;
    i->launch_time = 1700000000;
    i->state_time = 1700000001;
}

static xmlNodePtr path2(xmlDocPtr d, const char *a, const char *b)
{
    xmlNodePtr n = oc_xml_child(xmlDocGetRootElement(d), a);

    return n && b ? oc_xml_child(n, b) : n;
}

static char *attr(xmlNodePtr n, const char *name)
{
    static char buf[512];
    xmlChar *v = n ? xmlGetProp(n, BAD_CAST name) : NULL;

    snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "(none)");
    xmlFree(v);
    return buf;
}

static char *text(xmlNodePtr n)
{
    static char buf[512];
    char *t = n ? oc_xml_text(n) : NULL;

    snprintf(buf, sizeof(buf), "%s", t ? t : "(none)");
    xmlFree(t);
    return buf;
}

OC_TEST(nc_domain_xml_kernel_boot_bridge)
{
    struct nc_instance i;
    struct nc_domain_spec s = { 0 };
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };
    xmlDocPtr d;
    xmlNodePtr n, md;
    int disks = 0;

    sample(&i);
    snprintf(i.kernel.id, sizeof(i.kernel.id), "eki-0000000b");
    snprintf(i.kernel.location, sizeof(i.kernel.location), "k/vmlinuz");
    snprintf(i.kernel.digest, sizeof(i.kernel.digest), "abc");
    snprintf(i.ramdisk.id, sizeof(i.ramdisk.id), "eri-0000000c");
    snprintf(i.ramdisk.location, sizeof(i.ramdisk.location), "k/initrd");
    snprintf(i.ramdisk.digest, sizeof(i.ramdisk.digest), "def");
    i.ephemeral_gb = 2;
    i.mem_mb = 384;
    i.vcpus = 2;
    s.inst = &i;
    s.hypervisor = "qemu";
    s.root_path = "/x/root.qcow2";
    s.ephemeral_path = "/x/eph.qcow2";
    s.kernel_path = "/c/k";
    s.ramdisk_path = "/c/r";
    s.cmdline = "console=ttyS0 <&>";
    s.console_path = "/x/console.log";
    s.dac_label = "+0:+0";
    CHECK_INT(nc_domain_xml(&s, &b, &err), OC_OK);
    d = oc_xml_parse((const char *)b.data, b.len, &err);
    CHECK(d != NULL);
    if (!d) {
        oc_buf_free(&b);
        return;
    }
    CHECK_STR(attr(xmlDocGetRootElement(d), "type"), "qemu");
    CHECK_STR(text(path2(d, "name", NULL)), "i-0123456789abcdef0");
    CHECK_STR(text(path2(d, "memory", NULL)), "384");
    CHECK_STR(attr(path2(d, "memory", NULL), "unit"), "MiB");
    CHECK_STR(text(path2(d, "vcpu", NULL)), "2");
    CHECK_STR(text(path2(d, "os", "kernel")), "/c/k");
    CHECK_STR(text(path2(d, "os", "initrd")), "/c/r");
    CHECK_STR(text(path2(d, "os", "cmdline")), "console=ttyS0 <&>");
    CHECK(path2(d, "os", "boot") == NULL);
    CHECK(path2(d, "cpu", NULL) == NULL);   /* TCG: no host-passthrough */
    for (n = oc_xml_child(path2(d, "devices", NULL), "disk"); n; n = oc_xml_next(n, "disk")) {
        disks++;
        CHECK_STR(attr(oc_xml_child(n, "target"), "bus"), "virtio");
        CHECK_STR(attr(oc_xml_child(n, "driver"), "type"), "qcow2");
    }
    CHECK_INT(disks, 2);
    n = path2(d, "devices", "interface");
    CHECK_STR(attr(n, "type"), "bridge");
    CHECK_STR(attr(oc_xml_child(n, "source"), "bridge"), "br0");
    CHECK_STR(attr(oc_xml_child(n, "mac"), "address"), "d0:0d:12:34:56:78");
    CHECK_STR(attr(oc_xml_child(n, "model"), "type"), "virtio");
    n = path2(d, "devices", "serial");
    CHECK_STR(attr(n, "type"), "file");
    CHECK_STR(attr(oc_xml_child(n, "source"), "path"), "/x/console.log");
    CHECK_STR(text(oc_xml_child(path2(d, "seclabel", NULL), "label")), "+0:+0");
    CHECK_STR(attr(path2(d, "seclabel", NULL), "relabel"), "no");

    /* The record inside <metadata> reads back whole. */
    md = path2(d, "metadata", "instance");
    CHECK(md != NULL);
    if (md) {
        xmlBufferPtr xb = xmlBufferCreate();
        struct nc_instance back;

        xmlNodeDump(xb, d, md, 0, 0);
        CHECK_INT(nc_record_parse((const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb),
                                  &back, &err), OC_OK);
        CHECK_STR(back.id, i.id);
        CHECK_STR(back.kernel.id, "eki-0000000b");
        CHECK_STR(back.ramdisk.digest, "def");
        CHECK_INT(back.ephemeral_gb, 2);
        CHECK_INT(back.state, NC_RUNNING);
        xmlBufferFree(xb);
    }
    xmlFreeDoc(d);
    oc_buf_free(&b);
}

OC_TEST(nc_domain_xml_disk_boot_tap_kvm)
{
    struct nc_instance i;
    struct nc_domain_spec s = { 0 };
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };
    xmlDocPtr d;
    xmlNodePtr n;

    sample(&i);
    i.bridge[0] = 0;
    snprintf(i.tap, sizeof(i.tap), "vn-tap7");
    s.inst = &i;
    s.hypervisor = "kvm";
    s.root_path = "/x/root.qcow2";
    s.console_path = "/x/console.log";
    CHECK_INT(nc_domain_xml(&s, &b, &err), OC_OK);
    d = oc_xml_parse((const char *)b.data, b.len, &err);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(attr(xmlDocGetRootElement(d), "type"), "kvm");
        CHECK_STR(attr(path2(d, "os", "boot"), "dev"), "hd");
        CHECK(path2(d, "os", "kernel") == NULL);
        CHECK_STR(attr(path2(d, "cpu", NULL), "mode"), "host-passthrough");
        n = path2(d, "devices", "interface");
        CHECK_STR(attr(n, "type"), "ethernet");
        CHECK_STR(attr(oc_xml_child(n, "target"), "dev"), "vn-tap7");
        CHECK_STR(attr(oc_xml_child(n, "target"), "managed"), "no");
        CHECK(path2(d, "seclabel", NULL) == NULL);
        xmlFreeDoc(d);
    }
    oc_buf_free(&b);

    /* A kernel path without a kernel in the record is refused. */
    s.kernel_path = "/c/k";
    CHECK_INT(nc_domain_xml(&s, &b, &err), OC_EINVAL);
    s.kernel_path = NULL;
    s.hypervisor = "xen";
    CHECK_INT(nc_domain_xml(&s, &b, &err), OC_EINVAL);
    oc_buf_free(&b);
}

OC_TEST(nc_record_round_trip_and_checks)
{
    struct nc_instance i, back, bad;
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };

    sample(&i);
    snprintf(i.state_reason, sizeof(i.state_reason), "Server.InternalError: <x> & \"y\"");
    i.swap_mb = 512;
    snprintf(i.mc_ready, sizeof(i.mc_ready), "MC-READY");
    CHECK_INT(nc_record_xml(&i, &b, &err), OC_OK);
    CHECK_INT(nc_record_parse((const char *)b.data, b.len, &back, &err), OC_OK);
    CHECK(memcmp(&i, &back, sizeof(i)) == 0);
    oc_buf_free(&b);

#define BAD(field_edit)                                              \
    do {                                                             \
        bad = i;                                                     \
        field_edit;                                                  \
        CHECK_INT(nc_instance_check(&bad, &err), OC_EINVAL);         \
    } while (0)
    BAD(snprintf(bad.id, sizeof(bad.id), "i-XYZ"));
    BAD(snprintf(bad.id, sizeof(bad.id), "i-0123456789abcdef"));       /* 16 hex */
    BAD(snprintf(bad.mac, sizeof(bad.mac), "D0:0D:12:34:56:78"));      /* uppercase */
    BAD(snprintf(bad.mac, sizeof(bad.mac), "d1:0d:12:34:56:78"));      /* multicast */
    BAD(snprintf(bad.mac, sizeof(bad.mac), "d0:0d:12:34:56"));
    BAD(snprintf(bad.tap, sizeof(bad.tap), "tap0"));                   /* both */
    BAD(bad.bridge[0] = 0);                                            /* neither */
    BAD(snprintf(bad.bridge, sizeof(bad.bridge), "br/../x"));
    BAD(snprintf(bad.image.id, sizeof(bad.image.id), "eki-0000000b")); /* kernel as machine */
    BAD(snprintf(bad.image.location, sizeof(bad.image.location), "nobucket"));
    BAD(snprintf(bad.image.location, sizeof(bad.image.location), "b/\nx"));
    BAD(snprintf(bad.image.digest, sizeof(bad.image.digest), "../../etc"));
    BAD(snprintf(bad.ramdisk.id, sizeof(bad.ramdisk.id), "eri-0000000c");
        snprintf(bad.ramdisk.location, sizeof(bad.ramdisk.location), "a/b");
        snprintf(bad.ramdisk.digest, sizeof(bad.ramdisk.digest), "ab"));  /* no kernel */
    BAD(bad.vcpus = 0);
    BAD(bad.mem_mb = 8);
    BAD(bad.disk_gb = 0);
    BAD(snprintf(bad.owner_id, sizeof(bad.owner_id), "12345"));
    BAD(snprintf(bad.mc_ready, sizeof(bad.mc_ready), "MC READY"));     /* a space */
    BAD(snprintf(bad.mc_ready, sizeof(bad.mc_ready), "+0"));
    BAD(snprintf(bad.mc_ready, sizeof(bad.mc_ready), "+3601"));
    BAD(snprintf(bad.mc_ready, sizeof(bad.mc_ready), "+"));
#undef BAD
    bad = i;
    snprintf(bad.mc_ready, sizeof(bad.mc_ready), "+30");
    CHECK_INT(nc_instance_check(&bad, &err), OC_OK);
    CHECK_INT(nc_instance_check(&i, &err), OC_OK);

    /* Garbage and wrong documents. */
    CHECK(nc_record_parse("<instance><id>i-1</id>", 22, &back, &err) != OC_OK);
    CHECK(nc_record_parse("<domain/>", 9, &back, &err) != OC_OK);
    CHECK(nc_record_parse("<instance><state>flying</state></instance>", 42, &back, &err) !=
          OC_OK);
}

OC_TEST(nc_hypervisor_choice)
{
    char dir[PATH_MAX - 64], yes[PATH_MAX], no[PATH_MAX], dev[PATH_MAX], out[8], why[256];
    struct oc_err err = { 0 };
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/hyp", oc_test_tmpdir());
    CHECK_INT(oc_mkdirs(dir, 0700, &err), OC_OK);
    snprintf(yes, sizeof(yes), "%s/cpuinfo-vmx", dir);
    snprintf(no, sizeof(no), "%s/cpuinfo-pvm", dir);
    snprintf(dev, sizeof(dev), "%s/kvm", dir);
    f = fopen(yes, "w");
    fputs("processor\t: 0\nflags\t\t: fpu vme sse2 vmx ept\n", f);
    fclose(f);
    f = fopen(no, "w");
    /* "vmxx" and "svmfoo" are not the flags. */
    fputs("processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor vmxx svmfoo\n", f);
    fclose(f);
    f = fopen(dev, "w");
    fclose(f);

    CHECK_INT(nc_hyp_choose("qemu", yes, dev, out, why, sizeof(why), &err), OC_OK);
    CHECK_STR(out, "qemu");
    CHECK_INT(nc_hyp_choose("kvm", no, "/nonexistent", out, why, sizeof(why), &err), OC_OK);
    CHECK_STR(out, "kvm");
    CHECK_INT(nc_hyp_choose("xen", yes, dev, out, why, sizeof(why), &err), OC_EINVAL);
    CHECK_INT(nc_hyp_choose("auto", yes, dev, out, why, sizeof(why), &err), OC_OK);
    CHECK_STR(out, "kvm");
    CHECK_INT(nc_hyp_choose("", no, dev, out, why, sizeof(why), &err), OC_OK);
    CHECK_STR(out, "qemu");
    CHECK(strstr(why, "vmx") != NULL);
    CHECK_INT(nc_hyp_choose(NULL, yes, "/nonexistent/kvm", out, why, sizeof(why), &err), OC_OK);
    CHECK_STR(out, "qemu");

    CHECK(chmod(dev, 0600) == 0);
    CHECK(nc_hyp_kvm_dev_slow(dev, why, sizeof(why)) == 1);
    CHECK(strstr(why, "0660") != NULL);
    CHECK(chmod(dev, 0660) == 0);
    CHECK(nc_hyp_kvm_dev_slow(dev, why, sizeof(why)) == 0);
    CHECK(nc_hyp_kvm_dev_slow("/nonexistent/kvm", why, sizeof(why)) == 0);
}

OC_TEST(nc_qmp_messages)
{
    struct nc_qmp_msg m;
    struct oc_err err = { 0 };

#define PARSE(text) nc_qmp_parse(text, strlen(text), &m, &err)
    CHECK_INT(PARSE("{\"QMP\": {\"version\": {}, \"capabilities\": []}}"), OC_OK);
    CHECK_INT(m.kind, NC_QMP_GREETING);
    nc_qmp_msg_free(&m);
    CHECK_INT(PARSE("{\"return\": {\"status\": \"completed\"}}"), OC_OK);
    CHECK_INT(m.kind, NC_QMP_RETURN);
    CHECK_STR(json_string_value(json_object_get(m.value, "status")), "completed");
    nc_qmp_msg_free(&m);
    CHECK_INT(PARSE("{\"error\": {\"class\": \"GenericError\", \"desc\": \"not yet\"}}"),
              OC_OK);
    CHECK_INT(m.kind, NC_QMP_ERROR);
    CHECK_STR(m.name, "GenericError");
    CHECK_STR(m.desc, "not yet");
    nc_qmp_msg_free(&m);
    CHECK_INT(PARSE("{\"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}}"), OC_OK);
    CHECK_INT(m.kind, NC_QMP_EVENT);
    CHECK_STR(m.name, "MIGRATION");
    nc_qmp_msg_free(&m);
    /* Refused: not JSON, not an object, an error without a class (the
     * fuzzer found an empty one accepted), an unnamed event, duplicates. */
    CHECK_INT(PARSE("{\"return\": "), OC_EINVAL);
    CHECK_INT(PARSE("[1]"), OC_EINVAL);
    CHECK_INT(PARSE("{\"error\": {\"class\": \"\"}}"), OC_EINVAL);
    CHECK_INT(PARSE("{\"error\": {\"desc\": \"x\"}}"), OC_EINVAL);
    CHECK_INT(PARSE("{\"event\": 3}"), OC_EINVAL);
    CHECK_INT(PARSE("{\"return\": {}, \"return\": {}}"), OC_EINVAL);
    CHECK_INT(PARSE("{\"hello\": 1}"), OC_EINVAL);
#undef PARSE
}

/* The template RAM file's zero pages become holes; every byte reads the same. */
OC_TEST(nc_mc_punch_zero_pages)
{
    static char page[4096], back[8 * 4096];
    char path[PATH_MAX];
    struct stat before, after;
    FILE *f;

    snprintf(path, sizeof(path), "%s/mc-ram", oc_test_tmpdir());
    memset(page, 0x5a, sizeof(page));
    f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    /* data, 3 zero pages, data, 3 zero pages (the last run reaches EOF) */
    for (int i = 0; i < 8; i++) {
        static const char zero[4096];

        fwrite(i == 0 || i == 4 ? page : zero, 1, 4096, f);
    }
    fclose(f);
    CHECK_INT(stat(path, &before), 0);
    CHECK_INT(mci_punch_zero_pages(path), 6 * 4096);
    CHECK_INT(stat(path, &after), 0);
    CHECK_INT(after.st_size, 8 * 4096);
    CHECK(after.st_blocks < before.st_blocks);
    f = fopen(path, "rb");
    CHECK(f && fread(back, 1, sizeof(back), f) == sizeof(back));
    if (f)
        fclose(f);
    for (int i = 0; i < 8; i++)
        CHECK(back[i * 4096] == (i == 0 || i == 4 ? 0x5a : 0) &&
              back[i * 4096 + 4095] == (i == 0 || i == 4 ? 0x5a : 0));
    /* Nothing left to punch; a missing file punches nothing. */
    CHECK_INT(mci_punch_zero_pages(path), 0);
    CHECK_INT(mci_punch_zero_pages("/nonexistent/mc-ram"), 0);
    unlink(path);
}
