terraform {
  required_providers {
    # infra's test provider (tools/test-provider): real resources, offline.
    infratest = { source = "infra.test/infra/infratest" }
  }
}

variable "tables" { type = list(string) }
variable "tier" { type = string }

resource "infratest_thing" "table" {
  for_each = toset(var.tables)
  name     = each.key
  value    = var.tier
}

output "endpoint" { value = "db.${var.tier}.internal" }
output "tables" { value = sort(var.tables) }
