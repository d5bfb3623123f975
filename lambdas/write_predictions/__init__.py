"""Write-predictions Lambda: one Batch Transform output object -> DynamoDB items."""
