/*
 * hyp.c - choosing kvm or TCG (see hyp.h).
 */
#include "nc/hyp.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether a "flags" line of cpuinfo names vmx or svm as a whole word. */
static int cpu_has_virt(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    int found = 0;

    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f)) {
        char *save = NULL, *tok;

        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (tok = strtok_r(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \t\n", &save);
             tok; tok = strtok_r(NULL, " \t\n", &save))
            if (strcmp(tok, "vmx") == 0 || strcmp(tok, "svm") == 0)
                found = 1;
    }
    fclose(f);
    return found;
}

int nc_hyp_choose(const char *conf, const char *cpuinfo_path, const char *kvm_dev, char out[8],
                  char *why, size_t whylen, struct oc_err *err)
{
    int dev, virt;

    if (conf && (strcmp(conf, "kvm") == 0 || strcmp(conf, "qemu") == 0)) {
        snprintf(out, 8, "%s", conf);
        snprintf(why, whylen, "HYPERVISOR=\"%s\" in the configuration", conf);
        return OC_OK;
    }
    if (conf && conf[0] && strcmp(conf, "auto") != 0)
        return oc_err_set(err, OC_EINVAL, "HYPERVISOR must be kvm, qemu or auto, not '%.32s'",
                          conf);
    dev = access(kvm_dev, R_OK | W_OK) == 0;
    virt = cpu_has_virt(cpuinfo_path);
    snprintf(out, 8, "%s", dev && virt ? "kvm" : "qemu");
    if (dev && virt)
        snprintf(why, whylen, "%s is usable and the CPU has vmx/svm", kvm_dev);
    else if (dev)
        snprintf(why, whylen, "%s exists but the CPU shows neither vmx nor svm (a paravirtual "
                              "kvm such as PVM cannot boot stock kernels): using TCG", kvm_dev);
    else
        snprintf(why, whylen, "no usable %s: using TCG", kvm_dev);
    return OC_OK;
}

int nc_hyp_kvm_dev_slow(const char *kvm_dev, char *why, size_t whylen)
{
    struct stat st;

    if (stat(kvm_dev, &st) != 0 || (st.st_mode & 0066))
        return 0;
    snprintf(why, whylen, "%s is mode %03o: libvirtd takes ~50 s per domain start; run "
                          "`chgrp kvm %s && chmod 0660 %s` before starting libvirtd",
             kvm_dev, (unsigned)(st.st_mode & 0777), kvm_dev, kvm_dev);
    return 1;
}
