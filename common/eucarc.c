/*
 * eucarc.c - the text of the credential files (see eucarc.h).
 */
#include "common/eucarc.h"

int oc_eucarc_render(const struct oc_eucarc *e, struct oc_buf *eucarc, struct oc_buf *config,
                     struct oc_buf *credentials)
{
    int rc = 0;

    if (eucarc) {
        rc |= oc_buf_printf(eucarc,
                            "# Overcast credentials for %s: source this file.\n"
                            "EUCA_KEY_DIR=$(cd \"$(dirname \"${BASH_SOURCE:-$0}\")\" && pwd)\n"
                            "export EC2_URL=%s\n"
                            "export EUARE_URL=%s\n"
                            "export AWS_IAM_URL=%s\n"
                            "export S3_URL=%s\n"
                            "export EC2_ACCESS_KEY=%s\n"
                            "export EC2_SECRET_KEY=%s\n"
                            "export AWS_ACCESS_KEY_ID=%s\n"
                            "export AWS_SECRET_ACCESS_KEY=%s\n"
                            "export AWS_DEFAULT_REGION=%s\n"
                            "export EC2_ACCOUNT_NUMBER=%s\n"
                            "export EC2_USER_ID=%s\n",
                            e->who, e->ec2_url, e->euare_url, e->euare_url, e->s3_url,
                            e->access_key_id, e->secret_key, e->access_key_id, e->secret_key,
                            e->region, e->account_id, e->account_id);
        if (e->cert_file && e->key_file)
            rc |= oc_buf_printf(eucarc,
                                "export EC2_CERT=${EUCA_KEY_DIR}/%s\n"
                                "export EC2_PRIVATE_KEY=${EUCA_KEY_DIR}/%s\n",
                                e->cert_file, e->key_file);
        if (e->cloud_cert_file)
            rc |= oc_buf_printf(eucarc,
                                "export EUCALYPTUS_CERT=${EUCA_KEY_DIR}/%s\n"
                                "export EC2_JVM_ARGS=\n",
                                e->cloud_cert_file);
        rc |= oc_buf_puts(eucarc,
                          "# awscli 2.13 and later read these:\n"
                          "export AWS_ENDPOINT_URL_EC2=$EC2_URL\n"
                          "export AWS_ENDPOINT_URL_IAM=$EUARE_URL\n"
                          "export AWS_ENDPOINT_URL_S3=$S3_URL\n"
                          "# Older ones (Debian 12 has 2.9) do not: in a shell that sourced\n"
                          "# this file, `aws ec2|iam|s3|s3api ...` gets --endpoint-url filled in.\n"
                          "aws() {\n"
                          "    _oc_ep=\n"
                          "    for _oc_a in \"$@\"; do\n"
                          "        case $_oc_a in\n"
                          "        --endpoint-url|--endpoint-url=*) _oc_ep=; break ;;\n"
                          "        ec2) [ -n \"$_oc_ep\" ] || _oc_ep=$EC2_URL ;;\n"
                          "        iam) [ -n \"$_oc_ep\" ] || _oc_ep=$EUARE_URL ;;\n"
                          "        s3|s3api) [ -n \"$_oc_ep\" ] || _oc_ep=$S3_URL ;;\n"
                          "        esac\n"
                          "    done\n"
                          "    if [ -n \"$_oc_ep\" ]; then command aws --endpoint-url \"$_oc_ep\" \"$@\";\n"
                          "    else command aws \"$@\"; fi\n"
                          "}\n"
                          "# aws ec2 describe-regions        (with --endpoint-url \"$EC2_URL\" elsewhere)\n"
                          "# aws s3 ls\n");
    }
    if (config)
        rc |= oc_buf_printf(config,
                            "[profile overcast]\n"
                            "region = %s\n"
                            "s3 =\n"
                            "    addressing_style = path\n",
                            e->region);
    if (credentials)
        rc |= oc_buf_printf(credentials,
                            "[overcast]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                            e->access_key_id, e->secret_key);
    return rc ? OC_ENOMEM : OC_OK;
}
