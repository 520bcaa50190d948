# A syntax error: infra does not check names against a module it cannot parse, and leaves
# the error to Terraform.
variable "name" {
  type =
}
